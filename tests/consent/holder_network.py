"""A consent registry node and data holder nodes that ask it, on loopback with real keys and tokens.

The registry (role consent-registry) runs on the test's ``database_url`` (SQLite and PostgreSQL); the
holders (a hospital, a GP practice and a pharmacy, one per holder category the exchanges use) on SQLite
files of their own and ask the registry the closed question. Requesters are organisations with keys
in the trust list; their professionals' attestations come from a Dezi-like test IdP. A citizen's
choices are written at the registry as Consent resources (by the registry's operator, as its
self-service would).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from auth.orgs import Organisation, ProfessionalIdp, get_token, write_trust_list
from serving import free_port, served_node

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.consent import catalogue
from samen.consent.choices import ANY, Choice, consent_resource
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN

HOLDER_TYPES = {"ziekenhuis": "V4", "huisarts": "Z3", "apotheek": "J8"}  # one node per holder category


@dataclass
class Network:
    registry: Node
    holders: dict[str, tuple[Organisation, Node]]  # holder category -> (organisation, node)
    requesters: dict[str, Organisation]  # organisation type -> organisation
    dezi: ProfessionalIdp
    trust_file: Path

    def requester(self, organisation_type: str) -> Organisation:
        return self.requesters[organisation_type]

    def token(self, holder: str, requester: Organisation, purpose: str, *, bsn: str, role: str = "01.015",
              **extra: str) -> str:
        node = self.holders[holder][1]
        return get_token(node.settings.base_url, requester, scopes="system/*.rs", purpose=purpose, patient=bsn,
                         professional=self.dezi.attestation(requester, role=role), **extra)

    def get(self, holder: str, path: str, token: str) -> httpx.Response:
        node = self.holders[holder][1]
        return httpx.get(f"{node.settings.base_url}/{path}", headers={"Authorization": f"Bearer {token}"},
                         timeout=30)

    def choose(self, bsn: str, holder: str, data: str = ANY, requester: str = ANY, *, permit: bool) -> str:
        """Record a citizen's yes or no at the registry; the Consent's id."""
        consent = consent_resource("x", bsn, Choice(holder, data, requester, permit), "2026-11-23T10:00:00+01:00")
        consent["patient"] = {"identifier": {"system": BSN, "value": bsn}}
        return self._write("POST", "Consent", consent)["id"]

    def withdraw(self, consent_id: str) -> None:
        """The citizen withdraws a choice: the Consent becomes inactive."""
        stored = self._read(f"Consent/{consent_id}")
        self._write("PUT", f"Consent/{consent_id}", {**stored, "status": "inactive"})

    def _read(self, path: str) -> dict[str, Any]:
        request = FhirRequest("GET", path, base_url=self.registry.settings.base_url, access=OPERATOR_CONTEXT)
        return orjson.loads(self.registry.router.handle(request).payload() or b"{}")

    def _write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = FhirRequest(method, path, body=body, base_url=self.registry.settings.base_url,
                              access=OPERATOR_CONTEXT)
        response = self.registry.router.handle(request)
        written = orjson.loads(response.payload() or b"{}")
        assert response.status in (200, 201), written
        return written

    def subscribed(self) -> None:
        """Wait until every holder's subscription at the registry is in place."""
        for _, node in self.holders.values():
            assert node.services["consent-notifications"].subscribed.wait(20), "holder did not subscribe"


def requester_types(*rules_organisation_types: frozenset[str]) -> dict[str, str]:
    """One organisation type per requester category the given rules admit (the smallest code, for stability)."""
    chosen: dict[str, str] = {}
    for organisation_type in sorted(set().union(*rules_organisation_types)):
        category = catalogue.requester_category(organisation_type)
        if category is not None:
            chosen.setdefault(category, organisation_type)
    return chosen


@contextmanager
def network(database_url: str, model: Model, folder: Path, requester_org_types: set[str], *,
            cache_s: float = 10.0) -> Iterator[Network]:
    dezi = ProfessionalIdp.create("https://dezi.test")
    registry_org = Organisation.create(folder, "10000001", "Toestemmingsregister", "OV")
    holders = {category: Organisation.create(folder, f"2000000{i}", f"Houder {category}", org_type)
               for i, (category, org_type) in enumerate(sorted(HOLDER_TYPES.items()))}
    requesters = {org_type: Organisation.create(folder, f"3{i:07d}", f"Vrager {org_type}", org_type)
                  for i, org_type in enumerate(sorted(requester_org_types))}
    ports = {category: free_port() for category in holders}  # a holder subscribes on its listed FHIR base only
    listed = [registry_org.entry(), *(org.entry(fhir_base=f"http://127.0.0.1:{ports[category]}/fhir")
                                      for category, org in holders.items()), *(o.entry() for o in requesters.values())]
    trust = write_trust_list(folder / "trust.json", listed, [dezi.entry()])
    with ExitStack() as stack:
        registry = stack.enter_context(served_node(
            database_url, model, open_mode=False, ura=registry_org.ura, organisation_type="OV",
            keys_dir=str(registry_org.keys.directory), trust_list=str(trust), roles=("consent-registry",)))
        served = {
            category: (org, stack.enter_context(served_node(
                str(folder / f"holder-{category}.db"), model, open_mode=False, port=ports[category], ura=org.ura,
                organisation_type=org.organisation_type, keys_dir=str(org.keys.directory), trust_list=str(trust),
                consent_registry=registry.settings.base_url, consent_cache_s=cache_s)))
            for category, org in holders.items()
        }
        yield Network(registry, served, requesters, dezi, trust)
