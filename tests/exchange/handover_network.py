"""A small eOverdracht network on loopback: a query directory that lists a hospital and a nursing home, both real
nodes with keys (not open mode), a professional IdP, and a third organisation that is no party to the handovers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auth.orgs import TEST_BSN, OTHER_BSN, Organisation, ProfessionalIdp, identity, write_trust_list
from serving import free_port, served_node

from samen.api.messages import FhirRequest
from samen.audit import store as audit_store
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.exchange.handover import HandoverService
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN, URA
from samen.audit.events import audit_event_of

HOSPITAL, NURSING_HOME, OUTSIDER, DIRECTORY = "11110001", "55550005", "33330003", "90000903"
NURSE_ROLE = "30.000"  # verpleegkundige


@dataclass
class Network:
    hospital: Node
    nursing_home: Node
    directory: Node
    orgs: dict[str, Organisation]
    idp: ProfessionalIdp

    def service(self, node: Node) -> HandoverService:
        return node.services["handover"]

    def attestation(self, ura: str, role: str = NURSE_ROLE) -> str:
        """A nurse of the organisation ``ura``, attested by the professional IdP."""
        return self.idp.attestation(ura, uzi="900000042", role=role, name="V. Verpleegkundige")


def load(node: Node, resources: list[dict[str, Any]]) -> None:
    """PUT ``resources`` into ``node`` as its operator, in one transaction."""
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in resources]
    request = FhirRequest("POST", "", body={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                          base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
    assert node.router.handle(request).status == 200


def directory_entries(ura: str, name: str, org_type: str, fhir_base: str) -> list[dict[str, Any]]:
    """The Organization and its FHIR Endpoint as the query directory lists them."""
    return [
        {"resourceType": "Organization", "id": f"org-{ura}", "active": True, "name": name,
         "identifier": [{"system": URA, "value": ura}],
         "type": [{"coding": [{"system": "http://nictiz.nl/fhir/NamingSystem/organization-type", "code": org_type}]}],
         "endpoint": [{"reference": f"Endpoint/fhir-{ura}"}]},
        {"resourceType": "Endpoint", "id": f"fhir-{ura}", "status": "active", "address": fhir_base,
         "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                            "code": "hl7-fhir-rest"},
         "managingOrganization": {"reference": f"Organization/org-{ura}"},
         "payloadType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                                      "code": "any"}]}],
         "payloadMimeType": ["application/fhir+json"]},
    ]


def patient(res_id: str, bsn: str, given: str, family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": res_id, "identifier": [{"system": BSN, "value": bsn}],
            "name": [{"given": [given], "family": family}], "birthDate": "1940-03-02"}


def condition(res_id: str, patient_id: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": res_id, "subject": {"reference": f"Patient/{patient_id}"},
            "code": {"text": text}, "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}


def allergy(res_id: str, patient_id: str, text: str) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "id": res_id, "patient": {"reference": f"Patient/{patient_id}"},
            "code": {"text": text}, "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}}


@dataclass(frozen=True)
class Logged:
    """One audit trail entry, as much of it as a test compares: who, what, and how it ended."""

    who: str  # the organisation's URA, or "operator"
    what: str  # "METHOD path"
    outcome: str  # AuditEvent.outcome: "0" success, "4" refused or failed


def mark(node: Node) -> int:
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        return int(session.conn.execute("SELECT coalesce(max(seq), 0) FROM audit_entry")[0][0])


def logged(node: Node, after: int) -> list[Logged]:
    """The node's audit entries after seq ``after``, oldest first."""
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        entries = list(audit_store.entries(session.conn, after))
    found = []
    for entry in entries:
        event = audit_event_of(entry.event, entry.recorded_ms)
        organisations = [a["who"]["identifier"]["value"] for a in event["agent"]
                         if a["who"].get("identifier", {}).get("system") == URA]
        found.append(Logged(organisations[0] if organisations else "operator",
                            event["entity"][0]["description"], event["outcome"]))
    return found


@contextmanager
def network(tmp_path: Path, database_url: str, model: Model) -> Iterator[Network]:
    """The hospital on ``database_url``; the nursing home and the query directory on SQLite."""
    orgs = {ura: Organisation.create(tmp_path, ura, name, kind) for ura, name, kind in (
        (HOSPITAL, "Ziekenhuis Oost", "V4"), (NURSING_HOME, "Verpleeghuis De Linde", "X3"),
        (OUTSIDER, "Ziekenhuis West", "V4"), (DIRECTORY, "Adresboek Regio", "V4"))}
    idp = ProfessionalIdp.create()
    ports = {ura: free_port() for ura in orgs}
    bases = {ura: f"http://127.0.0.1:{port}/fhir" for ura, port in ports.items()}
    trust = write_trust_list(tmp_path / "trust.json", [org.entry(fhir_base=bases[ura]) for ura, org in orgs.items()],
                             [idp.entry()])
    with ExitStack() as stack:
        directory = stack.enter_context(served_node(
            str(tmp_path / "directory.db"), model, open_mode=False, port=ports[DIRECTORY], roles=("query-directory",),
            **identity(orgs[DIRECTORY], trust)))
        load(directory, directory_entries(HOSPITAL, "Ziekenhuis Oost", "V4", bases[HOSPITAL])
             + directory_entries(NURSING_HOME, "Verpleeghuis De Linde", "X3", bases[NURSING_HOME]))
        common = {"open_mode": False, "query_directory": directory.settings.base_url}
        hospital = stack.enter_context(served_node(database_url, model, port=ports[HOSPITAL], **common,
                                                   **identity(orgs[HOSPITAL], trust)))
        nursing_home = stack.enter_context(served_node(str(tmp_path / "nursing.db"), model, port=ports[NURSING_HOME],
                                                       **common, **identity(orgs[NURSING_HOME], trust)))
        load(hospital, [patient("p1", TEST_BSN, "Jan", "de Vries"), condition("c1", "p1", "Heupfractuur"),
                        allergy("a1", "p1", "Penicilline"), patient("p2", OTHER_BSN, "Els", "Bakker"),
                        condition("c2", "p2", "Diabetes mellitus type 2")])
        load(nursing_home, [patient("n1", OTHER_BSN, "Els", "Bakker"), condition("nc1", "n1", "Decubitus")])
        yield Network(hospital, nursing_home, directory, orgs, idp)
