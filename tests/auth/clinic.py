"""A secured node (no open mode) of a hospital, the organisations around it, and a small synthetic record.

Two patients, A and B, each with data, and resources that cross between them (A's panel has B's
observation as a member, A's device use names B's device), a Task for an eOverdracht, directory
entries of two organisations and a Group holding B. All made up; BSNs from the 9 series.
Tokens are real: system tokens from the node's token endpoint (signed client assertions, signed
professional attestations), patient tokens signed by the node's own key as its App Launch issues them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from orgs import OTHER_BSN, TEST_BSN, Organisation, ProfessionalIdp, get_token, write_trust_list
from serving import served_node

from samen.api.messages import FhirRequest
from samen.audit import store as audit_store
from samen.auth.context import AccessContext
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN, URA
from samen.audit.events import audit_event_of

LOINC = "http://loinc.org"
BLOOD_PRESSURE = f"{LOINC}|85354-9"

# (name, resource): references use "{name}" placeholders for the ids of other entries
RECORD: list[tuple[str, dict[str, Any]]] = [
    ("org-hospital", {"resourceType": "Organization", "name": "Ziekenhuis Oost",
                      "identifier": [{"system": URA, "value": "12345678"}]}),
    ("org-practice", {"resourceType": "Organization", "name": "Huisartsenpraktijk De Linde",
                      "identifier": [{"system": URA, "value": "87654321"}]}),
    ("org-homecare", {"resourceType": "Organization", "name": "Thuiszorg West",
                      "identifier": [{"system": URA, "value": "66666666"}]}),
    ("gp", {"resourceType": "Practitioner", "name": [{"family": "de Vries", "given": ["Anna"]}]}),
    ("patient-a", {"resourceType": "Patient", "identifier": [{"system": BSN, "value": TEST_BSN}],
                   "name": [{"family": "Jansen"}], "generalPractitioner": [{"reference": "{gp}"}]}),
    ("patient-b", {"resourceType": "Patient", "identifier": [{"system": BSN, "value": OTHER_BSN}],
                   "name": [{"family": "Bakker"}]}),
    ("a-bp", {"resourceType": "Observation", "status": "final", "subject": {"reference": "{patient-a}"},
              "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}}),
    ("b-bp", {"resourceType": "Observation", "status": "final", "subject": {"reference": "{patient-b}"},
              "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}}),
    ("a-panel", {"resourceType": "Observation", "status": "final", "subject": {"reference": "{patient-a}"},
                 "code": {"coding": [{"system": LOINC, "code": "24331-1"}]}, "hasMember": [{"reference": "{b-bp}"}]}),
    ("medication", {"resourceType": "Medication", "code": {"text": "metoprolol 50 mg"}}),
    ("a-prescription", {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                        "subject": {"reference": "{patient-a}"}, "medicationReference": {"reference": "{medication}"},
                        "requester": {"reference": "{gp}"}}),
    ("b-prescription", {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                        "subject": {"reference": "{patient-b}"}, "medicationReference": {"reference": "{medication}"}}),
    ("b-device", {"resourceType": "Device", "patient": {"reference": "{patient-b}"}}),
    ("a-device-use", {"resourceType": "DeviceUseStatement", "status": "active", "subject": {"reference": "{patient-a}"},
                      "device": {"reference": "{b-device}"}}),
    ("a-handover", {"resourceType": "Composition", "status": "final", "type": {"text": "verpleegkundige overdracht"},
                    "subject": {"reference": "{patient-a}"}, "date": "2026-11-01", "author": [{"reference": "{gp}"}],
                    "title": "Overdracht", "section": [{"title": "Metingen", "entry": [{"reference": "{a-bp}"}]}]}),
    ("task", {"resourceType": "Task", "status": "requested", "intent": "order", "for": {"reference": "{patient-a}"},
              "owner": {"identifier": {"system": URA, "value": "66666666"}},
              "requester": {"identifier": {"system": URA, "value": "12345678"}},
              "input": [{"type": {"text": "overdracht"}, "valueReference": {"reference": "{a-handover}"}}]}),
    ("task-for-practice", {"resourceType": "Task", "status": "requested", "intent": "order",
                           "owner": {"identifier": {"system": URA, "value": "87654321"}},
                           "requester": {"identifier": {"system": URA, "value": "12345678"}}}),
    ("practice-location", {"resourceType": "Location", "name": "Praktijk De Linde",
                           "managingOrganization": {"reference": "{org-practice}"}}),
    ("hospital-location", {"resourceType": "Location", "name": "Polikliniek Oost",
                           "managingOrganization": {"reference": "{org-hospital}"}}),
    ("group-b", {"resourceType": "Group", "type": "person", "actual": True,
                 "member": [{"entity": {"reference": "{patient-b}"}}]}),
]


@dataclass
class Clinic:
    node: Node
    hospital: Organisation  # runs the node
    practice: Organisation  # a GP practice (Z3)
    pharmacy: Organisation  # a community pharmacy (J8)
    homecare: Organisation  # a home-care organisation (T2)
    dezi: ProfessionalIdp
    ids: dict[str, str] = field(default_factory=dict)  # record name -> "Type/id"

    @property
    def base(self) -> str:
        return self.node.settings.base_url

    def id(self, name: str) -> str:
        return self.ids[name].split("/")[1]

    def token(self, organisation: Organisation, purpose: str, scopes: str, *, role: str | None = "01.015",
              patient: str | None = None, task: str | None = None) -> str:
        professional = self.dezi.attestation(organisation, role=role) if role else None
        return get_token(self.base, organisation, purpose=purpose, scopes=scopes, professional=professional,
                         patient=patient, task=task)

    def bgz_token(self, patient: str = TEST_BSN, scopes: str = "system/*.rs") -> str:
        """A GP asking the hospital for patient A's (or ``patient``'s) BgZ."""
        return self.token(self.practice, "bgz", scopes, patient=patient)

    def patient_token(self, bsn: str = TEST_BSN, scopes: str = "patient/*.rs") -> str:
        """A citizen's app token, as the node's SMART App Launch issues it after a DigiD-like login."""
        assert self.node.auth.issuer is not None
        context = AccessContext("patient", frozenset(scopes.split()), client_ura="pgo-test", purpose="patient-self",
                                patient_bsn=bsn)
        return self.node.auth.issuer.issue(context, audience=self.base)

    def admin_token(self) -> str:
        return self.token(self.hospital, "admin", "system/*.cruds", role=None)

    @contextmanager
    def client(self, token: str | None) -> Iterator[httpx.Client]:
        headers = {"Accept": "application/fhir+json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        with httpx.Client(base_url=self.base + "/", headers=headers, timeout=30) as client:
            yield client

    def audit_events(self) -> list[dict[str, Any]]:
        """Every refused FHIR request on the node's audit trail, newest first (read from the trail's table;
        refused token requests, also on the trail, are left out)."""
        self.node.services["audit"].flush()
        with self.node.store.session(write=False) as session:
            found = audit_store.search(session.conn, audit_store.Criteria(outcomes=("4", "8")), before=None,
                                       count=1000)
        events = [audit_event_of(entry.event, entry.recorded_ms) for entry in found]
        return [event for event in events if event["entity"][0]["description"] != "POST auth/token"]


def load_record(node: Node) -> dict[str, str]:
    """Store :data:`RECORD` in one transaction (as the operator); name -> "Type/id"."""
    entries = []
    for name, resource in RECORD:
        body = orjson.loads(orjson.dumps(resource).replace(b'"{', b'"urn:uuid:').replace(b'}"', b'"'))
        entries.append({"fullUrl": f"urn:uuid:{name}", "resource": body,
                        "request": {"method": "POST", "url": resource["resourceType"]}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    request = FhirRequest("POST", "", body=bundle, base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
    response = orjson.loads(node.router.handle(request).payload() or b"{}")
    locations = [entry["response"]["location"] for entry in response["entry"]]
    return {name: "/".join(location.split("/")[:2]) for (name, _), location in zip(RECORD, locations)}


@contextmanager
def clinic(database_url: str, model: Model, folder: Path, **settings: object) -> Iterator[Clinic]:
    """The hospital's node; ``settings`` add to its settings (roles, say)."""
    hospital = Organisation.create(folder, "12345678", "Ziekenhuis Oost", "V4")
    practice = Organisation.create(folder, "87654321", "Huisartsenpraktijk De Linde", "Z3")
    pharmacy = Organisation.create(folder, "55555555", "Apotheek Centrum", "J8")
    homecare = Organisation.create(folder, "66666666", "Thuiszorg West", "T2")
    dezi = ProfessionalIdp.create("https://dezi.test")
    trust = write_trust_list(folder / "trust.json", [o.entry() for o in (hospital, practice, pharmacy, homecare)],
                             [dezi.entry()])
    with served_node(database_url, model, open_mode=False, ura=hospital.ura, organisation_type="V4",
                     keys_dir=str(hospital.keys.directory), trust_list=str(trust), **settings) as node:
        yield Clinic(node, hospital, practice, pharmacy, homecare, dezi, load_record(node))
