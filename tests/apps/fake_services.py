"""In-memory stand-ins of ``node.services["exchange"]`` and ``["handover"]`` with the interfaces of
/tmp/notes/issue8.md, for testing the pages alone; the network tests use the real services.

``install_exchange`` serves the stand-in exchange as the real one is served: behind this node's ``$bgz`` and
``$medication-overview``, so the pages' requests pass the node's policy and audit trail.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from samen.exchange import operations
from samen.exchange.bgz import BgzResult, Section
from samen.exchange.handover_tasks import Handover, PulledHandover
from samen.exchange.medication import MedicationLine, MedicationOverview
from samen.exchange.merge import CustodianReport, Entry, Source

if TYPE_CHECKING:
    from samen.node import Node

GP = Source("90000001", "Huisartsenpraktijk De Linde", "Condition/c1")
PHARMACY = Source("90000003", "Apotheek Centrum", "MedicationDispense/d1")
REPORTS = (
    CustodianReport("90000001", "Huisartsenpraktijk De Linde", "http://gp/fhir", "ok", "", 40.0, 3),
    CustodianReport("90000003", "Apotheek Centrum", "http://pharmacy/fhir", "ok", "", 35.0, 2),
    CustodianReport("90000005", "Huisartsenpraktijk Het Plein", "http://gp2/fhir", "refused",
                    "No consent for this exchange", 12.0, 0),
    CustodianReport("90000006", "Ziekenhuis Zuid", "http://down/fhir", "unreachable", "Connection refused", 3.0, 0),
)


class FakeExchange:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def bgz(self, bsn: str, *, attestation: str, timeout_s: float | None = None) -> BgzResult:
        self.asked.append(("bgz", bsn, attestation))
        diabetes = {"resourceType": "Condition", "id": "c1", "code": {"text": "Diabetes mellitus type 2"},
                    "clinicalStatus": {"coding": [{"code": "active", "display": "Actief"}]},
                    "onsetDateTime": "2015-04-01"}
        penicillin = {"resourceType": "AllergyIntolerance", "id": "a1", "code": {"text": "Penicilline"},
                      "recordedDate": "2010-01-01"}
        sections = (
            Section("problems", "Problemen", "Problems",
                    (Entry(diabetes, (GP, Source("90000002", "Ziekenhuis Noord", "Condition/h7"))),)),
            Section("allergies", "Allergieën", "Allergies", (Entry(penicillin, (GP,)),)),
            Section("immunizations", "Vaccinaties", "Immunizations", ()),
        )
        return BgzResult(bsn, sections, REPORTS, 87.0)

    def medication_overview(self, bsn: str, *, attestation: str,
                            timeout_s: float | None = None) -> MedicationOverview:
        self.asked.append(("medication", bsn, attestation))
        lines = (
            MedicationLine("dispense", "2024-05-02", "Metformine 500 mg tablet", "completed", "2x per dag 1 tablet",
                           (PHARMACY,), {}),
            MedicationLine("agreement", "2024-04-30", "Metformine 500 mg tablet", "active", "2x per dag 1 tablet",
                           (GP,), {}),
        )
        return MedicationOverview(bsn, lines, REPORTS, 80.0)


def install_exchange(node: Node, exchange: FakeExchange) -> None:
    """``exchange`` as ``node.services["exchange"]``, served by the node's operations (with their policy rule)."""
    operations.register(node, exchange)  # type: ignore[arg-type]  (the stand-in has the Exchange's interface)
    node.services["exchange"] = exchange


class FakeHandover:
    def __init__(self) -> None:
        self.handovers: dict[str, Handover] = {"in-1": Handover(
            "in-1", "in", "requested", "Anna Visser", "90000004", "Verpleeghuis De Eik", "90000002",
            "Ziekenhuis Noord", "2024-06-01T10:00:00Z", "Graag wondzorg voortzetten")}
        self.sent: list[dict[str, Any]] = []
        self.pulls: list[str] = []

    def send(self, *, patient_id: str, receiver_ura: str, resources: list[str], note: str,
             attestation: str) -> Handover:
        self.sent.append({"patient_id": patient_id, "receiver_ura": receiver_ura, "note": note,
                          "attestation": attestation})
        handover = Handover(f"out-{len(self.sent)}", "out", "requested", "Anna Visser", "90000002",
                            "Ziekenhuis Noord", receiver_ura, "Verpleeghuis De Eik", "2024-06-02T09:00:00Z", note)
        self.handovers[handover.id] = handover
        return handover

    def outgoing(self) -> list[Handover]:
        return [h for h in self.handovers.values() if h.direction == "out"]

    def incoming(self) -> list[Handover]:
        return [h for h in self.handovers.values() if h.direction == "in"]

    def pull(self, handover_id: str, *, attestation: str) -> PulledHandover:
        self.pulls.append(handover_id)
        handover = self.handovers[handover_id]
        if handover.status == "requested":
            handover = self._move(handover_id, "received")
        wound = {"resourceType": "Condition", "id": "w1", "code": {"text": "Decubitus hiel links"}}
        return PulledHandover(handover, {"resourceType": "Task", "id": handover_id}, [wound])

    def accept(self, handover_id: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "accepted")

    def reject(self, handover_id: str, reason: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "rejected")

    def _move(self, handover_id: str, status: str) -> Handover:
        self.handovers[handover_id] = replace(self.handovers[handover_id], status=status)
        return self.handovers[handover_id]
