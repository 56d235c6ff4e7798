"""A served consent registry with real organisations and tokens, for the registry's tests (and the benchmark)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from auth.orgs import Organisation, get_token, identity, write_trust_list
from serving import free_port, served_node

from samen.auth.context import AccessContext
from samen.consent import catalogue
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN, URA

OTHER_BSN = "999911016"  # passes the elfproef (auth.orgs.OTHER_BSN does not)


@dataclass
class Registry:
    node: Node
    gp: Organisation  # Z3, a data holder (huisarts)
    hospital: Organisation  # V4, a requester and a data holder (ziekenhuis)
    insurer: Organisation  # no care provider: no catalogue category
    fhir_bases: dict[str, str]  # URA -> the FHIR base the trust list lists (on loopback; nothing serves there)

    def fhir_base(self, organisation: Organisation) -> str:
        return self.fhir_bases[organisation.ura]

    @property
    def base(self) -> str:
        return self.node.settings.base_url

    def token(self, organisation: Organisation, purpose: str, scopes: str = "system/*.rs") -> str:
        return get_token(self.base, organisation, purpose=purpose, scopes=scopes)

    def patient_token(self, bsn: str, scopes: str = "patient/Consent.cruds patient/Patient.rs") -> str:
        """A citizen's PGO token, as the registry's SMART App Launch issues it after a DigiD-like login."""
        assert self.node.auth.issuer is not None
        context = AccessContext("patient", frozenset(scopes.split()), client_ura="pgo-test", purpose="patient-self",
                                patient_bsn=bsn)
        return self.node.auth.issuer.issue(context, audience=self.base)

    @contextmanager
    def client(self, token: str) -> Iterator[httpx.Client]:
        headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=self.base + "/", headers=headers, timeout=30) as client:
            yield client


@contextmanager
def served_registry(database_url: str, model: Model, tmp_path: Path) -> Iterator[Registry]:
    registry_org = Organisation.create(tmp_path, "00000999", "Toestemmingsregister", "ZG")
    gp = Organisation.create(tmp_path, "11111111", "Huisartsenpraktijk De Linde", "Z3")
    hospital = Organisation.create(tmp_path, "22222222", "Ziekenhuis Oost", "V4")
    insurer = Organisation.create(tmp_path, "33333333", "Zorgverzekeraar", "ZV")
    bases = {org.ura: f"http://127.0.0.1:{free_port()}/fhir" for org in (gp, hospital, insurer)}
    trust = write_trust_list(tmp_path / "trust.json",
                             [org.entry(fhir_base=bases[org.ura]) for org in (gp, hospital, insurer)])
    with served_node(database_url, model, open_mode=False, roles=("consent-registry",),
                     **identity(registry_org, trust)) as node:
        yield Registry(node, gp, hospital, insurer, bases)


def question(bsn: str, holder: str, data: str, requester: str, /, **extra: Any) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "patient", "valueIdentifier": {"system": BSN, "value": bsn}},
        {"name": "holder-category", "valueCode": holder},
        {"name": "data-category", "valueCode": data},
        {"name": "requester-category", "valueCode": requester},
        {"name": "purpose", "valueCode": "bgz"},
    ]
    for name, ura in extra.items():
        parameters.append({"name": name, "valueIdentifier": {"system": URA, "value": ura}})
    return {"resourceType": "Parameters", "parameter": parameters}


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return {p["name"]: p.get("valueCode") or p.get("valueString") or p.get("valueReference", {}).get("reference")
            for p in response.json()["parameter"]}


def consent(bsn: str, holder: str, permit: bool, data: str | None = None, requester: str | None = None,
            status: str = "active") -> dict[str, Any]:
    """A choice as a PGO writes it: the citizen named by BSN only."""
    actors = [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "code": "CST"}]},
               "reference": {"identifier": {"system": catalogue.HOLDER_CATEGORY_SYSTEM, "value": holder}}}]
    if requester:
        actors.append({"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                            "code": "IRCP"}]},
                       "reference": {"identifier": {"system": catalogue.REQUESTER_CATEGORY_SYSTEM, "value": requester}}})
    provision: dict[str, Any] = {"type": "permit" if permit else "deny", "actor": actors}
    if data:
        provision["code"] = [{"coding": [{"system": catalogue.DATA_CATEGORY_SYSTEM, "code": data}]}]
    return {"resourceType": "Consent", "status": status,
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"identifier": {"system": BSN, "value": bsn}},
            "dateTime": "2026-11-23T10:00:00+01:00",
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "OPTIN" if permit else "OPTOUT"}]},
            "provision": provision}
