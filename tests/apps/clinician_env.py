"""A hospital node with the clinician view, the test IdPs, and its own patients, all on loopback.

``clinician_node(...)`` serves the node (URA 90000002, the URA of the IdP's built-in test nurse B. Jansen, unless
another ``organisation`` is given, e.g. PRACTICE, where the IdP's built-in GP works) with
``--professional-idp`` pointing at a served ``samen idp``, a trust list naming the IdP as ``professional`` issuer
and the organisations a handover can go to, and stores the patients the view finds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from auth.orgs import Organisation, identity, write_trust_list
from idp.idp_serving import ServedIdp, served_idp
from playwright.sync_api import Page
from serving import free_port, served_node

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN

HOSPITAL_URA = "90000002"  # B. Jansen, verpleegkundige (UZI 900000002) of the IdP's built-in list works here
NURSE = "B. Jansen"
HOSPITAL = (HOSPITAL_URA, "Ziekenhuis Noord", "V4")
PRACTICE = ("90000001", "Huisartsenpraktijk De Linde", "Z3")  # where dr. A. de Vries, huisarts, works
OTHER_ORGANISATION_DOCTOR = "dr. A. de Vries"  # GP of URA 90000001
PATIENT_BSN = "999911120"
PATIENT = {"resourceType": "Patient", "id": "p1", "identifier": [{"system": BSN, "value": PATIENT_BSN}],
           "name": [{"family": "Visser", "given": ["Anna"]}], "gender": "female", "birthDate": "1948-03-12"}
NAMESAKE = {"resourceType": "Patient", "id": "p2", "identifier": [{"system": BSN, "value": "999912032"}],
            "name": [{"family": "Visser", "given": ["Jan"]}], "gender": "male", "birthDate": "1950-07-01"}


@dataclass
class ClinicianEnv:
    node: Node
    idp: ServedIdp
    hospital: Organisation
    organisations: dict[str, Organisation]

    @property
    def view_url(self) -> str:
        return f"{self.node.settings.base_url}/zorgverlener"


@contextmanager
def clinician_node(database_url: str, model: Model, tmp_path: Path, *,
                   others: tuple[tuple[str, str, str], ...] = (("90000004", "Verpleeghuis De Eik", "X3"),),
                   patients: tuple[dict[str, Any], ...] = (PATIENT, NAMESAKE),
                   organisation: tuple[str, str, str] = HOSPITAL, **settings: Any) -> Iterator[ClinicianEnv]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    hospital = Organisation.create(tmp_path, *organisation)
    organisations = {ura: Organisation.create(tmp_path, ura, name, kind) for ura, name, kind in others}
    with served_idp({base_url: (f"{base_url}/zorgverlener/callback",)}) as idp:
        issuer = idp.professional.issuer
        trust = write_trust_list(
            tmp_path / "trust.json",
            [hospital.entry(fhir_base=base_url), *(org.entry() for org in organisations.values())],
            [{"issuer": issuer, "kind": "professional", "jwks_uri": f"{issuer}/jwks.json"}])
        with served_node(database_url, model, open_mode=False, port=port, professional_idp=issuer,
                         **identity(hospital, trust), **settings) as node:
            with node.store.session(write=True) as session:
                for patient in patients:
                    session.create(patient, patient["id"])
            yield ClinicianEnv(node, idp, hospital, organisations)


def audited(node: Node, operation: str) -> list[dict[str, Any]]:
    """The AuditEvents of ``node``'s trail about ``operation`` (e.g. "$bgz"), as the operator reads them."""
    request = FhirRequest("GET", "AuditEvent", [("_count", "200")], base_url=node.settings.base_url,
                          access=OPERATOR_CONTEXT)
    bundle = orjson.loads(node.router.handle(request).payload() or b"{}")
    return [e["resource"] for e in bundle.get("entry", []) if operation in orjson.dumps(e["resource"]).decode()]


def log_in(page: Page, view_url: str, professional: str) -> None:
    """Log in at the view through the served IdP as ``professional`` (a name on its login page)."""
    page.goto(view_url)
    page.get_by_role("link", name="Inloggen als zorgverlener").click()
    page.get_by_label(professional).check()
    page.get_by_role("button", name="Inloggen").click()
