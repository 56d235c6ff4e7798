"""A network for BgZ and medication retrieval tests, on loopback with real keys, tokens and consent.

Built on the localization test network (tests/directory/localization_nodes.py: index and pseudonymiser), plus a
query directory (open mode, its entries written as an administrator would sync them, with the helpers of
tests/directory/mcsd_network.py), a consent registry, the requesting hospital (on the test's ``database_url``,
where the call is audited) and the custodians of one person:

- Ziekenhuis Oost (hospital): problem, allergy (identifier A-1), agreement (identifier MA-1), blood pressure;
- Huisartspraktijk De Linde (GP): the same allergy (identifier A-1), the same problem (same content, no identifier),
  its own agreement and the use of it;
- Apotheek De Brug (pharmacy): a dispense of the hospital's agreement;
- Verpleeghuis Avondrust (nursing home): asks the consent registry, where the person recorded nothing: deny;
- optionally a custodian that is down (a closed port) and one that is slow (a Starlette app that sleeps).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from auth.orgs import TEST_BSN, Organisation, ProfessionalIdp, get_token, identity, write_trust_list
from directory import localization_nodes
from directory.localization_nodes import HOSPITAL_URA, PRACTICE_URA, REQUESTER_URA
from directory.mcsd_network import endpoint, organisation, put
from serving import free_port, served_app, served_node
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.directory.categories import category_of
from samen.directory.localization_client import Registration
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN

PHARMACY_URA, NURSING_URA, DOWN_URA, SLOW_URA = "55550005", "66660006", "77770007", "88880008"
QD_URA, REGISTRY_URA = "90000903", "90000904"
SCT, LOINC = "http://snomed.info/sct", "http://loinc.org"
ALLERGY_ID = {"system": "urn:oid:2.16.840.1.113883.2.4.3.11.999.1", "value": "A-1"}
AGREEMENT_ID = {"system": "urn:oid:2.16.840.1.113883.2.4.3.11.999.2", "value": "MA-1"}
PATIENT = "urn:uuid:11111111-1111-4111-8111-111111111111"
SUBJECT = {"reference": PATIENT}


@dataclass
class Network:
    requester: Node
    requester_org: Organisation
    custodians: dict[str, Node]  # URA -> node
    orgs: dict[str, Organisation]  # URA -> every organisation of the network
    registry: Node
    dezi: ProfessionalIdp
    stack: ExitStack

    def attestation(self, *, role: str = "01.015", uzi: str = "900000001", ura: str = REQUESTER_URA) -> str:
        return self.dezi.attestation(ura, uzi=uzi, role=role)

    def own_token(self, purpose: str = "bgz", bsn: str = TEST_BSN, **kwargs: Any) -> str:
        """A token of the requesting hospital at its own node, as its clinician app gets one."""
        return get_token(self.requester.settings.base_url, self.requester_org, scopes="system/Patient.rs",
                         purpose=purpose, patient=bsn, professional=kwargs.pop("professional", self.attestation()),
                         **kwargs)


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": BSN, "value": TEST_BSN}],
            "name": [{"family": "Jansen", "given": ["Anna"]}], "birthDate": "1958-03-14"}


def problem() -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": SUBJECT, "onsetDateTime": "2015-06-01",
            "code": {"coding": [{"system": SCT, "code": "44054006", "display": "Diabetes mellitus type 2"}]}}


def allergy(note: str) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "identifier": [ALLERGY_ID], "patient": SUBJECT,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": SCT, "code": "764146007", "display": "Penicilline"}]},
            "note": [{"text": note}]}


def agreement(identifier: dict[str, str], text: str, authored: str, dosage: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "identifier": [identifier], "status": "active",
            "intent": "order", "subject": SUBJECT, "authoredOn": authored,
            "category": [{"coding": [{"system": SCT, "code": "16076005", "display": "Prescription"}]}],
            "medicationCodeableConcept": {"text": text}, "dosageInstruction": [{"text": dosage}]}


def dispense() -> dict[str, Any]:
    return {"resourceType": "MedicationDispense", "status": "completed", "subject": SUBJECT,
            "category": {"coding": [{"system": SCT, "code": "422037009"}]},
            "medicationCodeableConcept": {"text": "Metformine 500 mg tablet"},
            "whenHandedOver": "2026-10-02T10:00:00+02:00", "quantity": {"value": 90, "unit": "tablet"},
            "dosageInstruction": [{"text": "2 maal daags 1 tablet"}]}


def use() -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
            "effectivePeriod": {"start": "2025-02-01"}, "medicationCodeableConcept": {"text": "Simvastatine 20 mg tablet"},
            "dosage": [{"text": "1 maal daags 1 tablet, 's avonds"}]}


def blood_pressure() -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": SUBJECT,
            "effectiveDateTime": "2026-09-01T09:00:00+02:00",
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure"}]},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                           "valueQuantity": {"value": 135, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                                             "code": "mm[Hg]"}}]}


RECORDS: dict[str, list[dict[str, Any]]] = {
    HOSPITAL_URA: [patient(), problem(), allergy("Huiduitslag"),
                   agreement(AGREEMENT_ID, "Metformine 500 mg tablet", "2026-09-15", "2 maal daags 1 tablet"),
                   blood_pressure()],
    PRACTICE_URA: [patient(), problem(), allergy("Gemeld door patiënt"),
                   agreement({"system": AGREEMENT_ID["system"], "value": "MA-7"}, "Simvastatine 20 mg tablet",
                             "2025-01-10", "1 maal daags 1 tablet"), use()],
    PHARMACY_URA: [patient(), dispense()],
    NURSING_URA: [patient(), problem()],
}


def load(node: Node, resources: list[dict[str, Any]]) -> None:
    """Store a custodian's record in one transaction, as its operator would import it (a copy: the transaction
    rewrites the references it is given)."""
    resources = orjson.loads(orjson.dumps(resources))
    entries = [{"fullUrl": PATIENT if r["resourceType"] == "Patient" else f"urn:uuid:{n:08d}-0000-4000-8000-000000000000",
                "resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for n, r in enumerate(resources)]
    request = FhirRequest("POST", "", body={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                          base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
    response = node.router.handle(request)
    assert response.status == 200, response.payload()


@contextmanager
def slow_app(delay_s: float) -> Iterator[str]:
    """A FHIR base on loopback that answers everything (its token endpoint too) only after ``delay_s``."""
    async def sleepy(request: Request) -> JSONResponse:
        await asyncio.sleep(delay_s)
        return JSONResponse({"resourceType": "Bundle", "type": "batch-response", "entry": []})

    with served_app(Starlette(routes=[Route("/{path:path}", sleepy, methods=["GET", "POST"])])) as base:
        yield f"{base}/fhir"


@contextmanager
def network(tmp_path: Path, database_url: str, model: Model, *, unavailable: bool = False,
            timeout_s: float = 10.0, records: dict[str, list[dict[str, Any]]] | None = None) -> Iterator[Network]:
    """The requester on ``database_url``; with ``unavailable`` also a custodian that is down and one that is slow;
    ``records``: the custodians' records (default :data:`RECORDS`)."""
    records = records or RECORDS
    dezi = ProfessionalIdp.create("https://dezi.test")
    with ExitStack() as stack, localization_nodes.network(tmp_path, str(tmp_path / "index.db"), model) as net:
        orgs = net.orgs
        for ura, name, kind in ((PHARMACY_URA, "Apotheek De Brug", "J8"), (NURSING_URA, "Verpleeghuis Avondrust", "X3"),
                                (DOWN_URA, "Kliniek Uit", "V4"), (SLOW_URA, "Kliniek Traag", "V4"),
                                (QD_URA, "Zoekdirectory", "V4"), (REGISTRY_URA, "Toestemmingsregister", "OV")):
            orgs[ura] = Organisation.create(tmp_path, ura, name, kind)
        held = [HOSPITAL_URA, PRACTICE_URA, PHARMACY_URA, NURSING_URA] + ([DOWN_URA, SLOW_URA] if unavailable else [])
        ports = {ura: free_port() for ura in (*held, QD_URA, REGISTRY_URA, REQUESTER_URA)}
        bases = {ura: f"http://127.0.0.1:{port}/fhir" for ura, port in ports.items()}
        if unavailable:
            bases[SLOW_URA] = stack.enter_context(slow_app(delay_s=timeout_s + 5))
        bases |= {localization_nodes.NVI_URA: net.index.settings.base_url,
                  localization_nodes.PRS_URA: net.pseudonymiser.settings.base_url}
        write_trust_list(net.trust_file, [org.entry(fhir_base=bases.get(ura, "https://node.test/fhir"))
                                          for ura, org in orgs.items()], [dezi.entry()])
        time.sleep(1.1)  # the index and pseudonymiser read the trust list again after a second
        trust = net.trust_file

        def serve(ura: str, database: str, **settings: Any) -> Node:
            return stack.enter_context(served_node(database, model, open_mode=settings.pop("open_mode", False),
                                                   port=ports[ura], **identity(orgs[ura], trust), **settings))

        directory = serve(QD_URA, str(tmp_path / "qd.db"), open_mode=True, roles=("query-directory",))
        registry = serve(REGISTRY_URA, str(tmp_path / "registry.db"), roles=("consent-registry",))
        custodians = {}
        for ura in (HOSPITAL_URA, PRACTICE_URA, PHARMACY_URA, NURSING_URA):
            extra = {"consent_registry": registry.settings.base_url} if ura == NURSING_URA else {}
            custodians[ura] = serve(ura, str(tmp_path / f"custodian-{ura}.db"), **extra)
            load(custodians[ura], records[ura])
        for ura in held:
            put(directory, endpoint(f"ep-{ura}", bases[ura], f"org-{ura}"))
            put(directory, organisation(f"org-{ura}", orgs[ura].name, ura=ura, org_type=orgs[ura].organisation_type,
                                        endpoints=(f"ep-{ura}",)))
            client = net.client(ura)
            token = client.pseudonymize([TEST_BSN])[0]
            categories = {category_of(r) for r in records.get(ura, [problem()])} - {None}
            client.register([Registration(token, str(category), ura) for category in sorted(categories)])
        requester = serve(REQUESTER_URA, database_url, query_directory=directory.settings.base_url,
                          localization_index=net.index.settings.base_url,
                          pseudonymiser=net.pseudonymiser.settings.base_url, exchange_timeout_s=timeout_s)
        yield Network(requester, orgs[REQUESTER_URA], custodians, orgs, registry, dezi, stack)


def bundle_resources(bundle: dict[str, Any], res_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == res_type]
