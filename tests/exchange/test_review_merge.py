"""Review of the merge rule: resources that differ only in what their references point to are different facts."""

from __future__ import annotations

from typing import Any

from samen.exchange.custodians import Custodian
from samen.exchange.merge import merge
from samen.exchange.retrieval import Fetched

GP, HOSPITAL = Custodian("11110001", "Huisarts"), Custodian("22220002", "Ziekenhuis")


def medication(res_id: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": res_id, "code": {"text": text}}


def agreement(res_id: str, medication_id: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": res_id, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/p"}, "authoredOn": "2026-01-05",
            "medicationReference": {"reference": f"Medication/{medication_id}"},
            "dosageInstruction": [{"text": "1 maal daags 1 tablet"}]}


def agreements(entries: list[Any]) -> list[list[str]]:
    return [[f"{s.ura}:{s.reference}" for s in e.sources] for e in entries
            if e.resource["resourceType"] == "MedicationRequest"]


def test_agreements_for_different_medications_stay_apart() -> None:
    gp = [agreement("r1", "m1"), agreement("r2", "m2"), medication("m1", "Metformine"),
          medication("m2", "Simvastatine")]
    entries = merge([(Fetched(GP), gp)])
    assert agreements(entries) == [[f"{GP.ura}:MedicationRequest/r1"], [f"{GP.ura}:MedicationRequest/r2"]]


def test_the_same_agreement_at_two_custodians_is_still_one_entry() -> None:
    gp = [agreement("r1", "m1"), medication("m1", "Metformine")]
    hospital = [agreement("x9", "k3"), medication("k3", "Metformine")]
    entries = merge([(Fetched(GP), gp), (Fetched(HOSPITAL), hospital)])
    assert agreements(entries) == [[f"{GP.ura}:MedicationRequest/r1", f"{HOSPITAL.ura}:MedicationRequest/x9"]]
    other = [agreement("x9", "k3"), medication("k3", "Simvastatine")]
    assert len(agreements(merge([(Fetched(GP), gp), (Fetched(HOSPITAL), other)]))) == 2
