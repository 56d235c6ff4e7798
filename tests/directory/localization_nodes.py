"""A small network for localization tests: a pseudonymiser node, an index node (both with real keys and
tokens, not open mode) and organisations that call them: two custodians, a requester and a PGO."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from auth.orgs import Organisation, get_token, identity, write_trust_list
from serving import free_port, served_node

from samen.auth.client import TokenClient
from samen.auth.context import AccessContext
from samen.directory.localization_client import LocalizationClient
from samen.fhir.model import Model
from samen.node import Node

BSNS = ("999911120", "999990007", "999990019", "999990020", "999990032")  # elfproef, synthetic 9-series
NVI_URA, PRS_URA = "90000901", "90000902"
HOSPITAL_URA, PRACTICE_URA, REQUESTER_URA, PGO_URA = "11110001", "22220002", "33330003", "44440004"


@dataclass
class Network:
    index: Node
    pseudonymiser: Node
    orgs: dict[str, Organisation]
    trust_file: Path
    db_url: str

    def client(self, ura: str) -> LocalizationClient:
        """The localization client of the organisation with ``ura``."""
        return LocalizationClient(TokenClient(self.orgs[ura].keys), index=self.index.settings.base_url,
                                  index_ura=NVI_URA, pseudonymiser=self.pseudonymiser.settings.base_url)

    def tokens(self, bsns: list[str] | tuple[str, ...], ura: str = HOSPITAL_URA) -> list[str]:
        return self.client(ura).pseudonymize(list(bsns))

    def citizen(self, bsn: str) -> str:
        """A citizen's token at the pseudonymiser, as its SMART App Launch issues it after a DigiD-like login."""
        issuer = self.pseudonymiser.auth.issuer
        assert issuer is not None
        context = AccessContext("patient", frozenset({"patient/*.rs"}), client_ura="pgo-test", purpose="patient-self",
                                patient_bsn=bsn)
        return issuer.issue(context, audience=self.pseudonymiser.settings.base_url)

    def object(self, bsn: str, objects: bool, **kwargs: object) -> httpx.Response:
        """The citizen records (or withdraws) their objection at the pseudonymiser."""
        body = {"resourceType": "Parameters", "parameter": [{"name": "objection", "valueBoolean": objects}]}
        return httpx.post(f"{self.pseudonymiser.settings.base_url}/$objection", json=kwargs.pop("json", body),
                          headers={"Authorization": f"Bearer {kwargs.pop('token', None) or self.citizen(bsn)}"},
                          timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, ura: str, path: str, purpose: str, scopes: str, **kwargs: object) -> httpx.Response:
        """A raw call at the index by the organisation with ``ura``, with a token for ``purpose``."""
        base = self.index.settings.base_url
        token = get_token(base, self.orgs[ura], scopes=scopes, purpose=purpose)
        return httpx.request(kwargs.pop("method", "POST"), f"{base}/{path}",  # type: ignore[arg-type]
                             headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


@contextmanager
def network(tmp_path: Path, database_url: str, model: Model) -> Iterator[Network]:
    """The index on ``database_url``, the pseudonymiser on SQLite; every organisation in one trust list."""
    orgs = {ura: Organisation.create(tmp_path, ura, name, kind) for ura, name, kind in (
        (NVI_URA, "Nationale Verwijsindex", "V4"), (PRS_URA, "Pseudonimiseringsdienst", "V4"),
        (HOSPITAL_URA, "Ziekenhuis Oost", "V4"), (PRACTICE_URA, "Huisartspraktijk De Linde", "Z3"),
        (REQUESTER_URA, "Ziekenhuis West", "V4"), (PGO_URA, "PGO Mijn Gezondheid", "V4"))}
    trust = write_trust_list(tmp_path / "trust.json", [org.entry() for org in orgs.values()])
    index_port, prs_port = free_port(), free_port()  # each names the other: objections pass from one to the other
    with ExitStack() as stack:
        index = stack.enter_context(served_node(
            database_url, model, open_mode=False, port=index_port, roles=("localization-index",),
            pseudonymiser=f"http://127.0.0.1:{prs_port}/fhir", **identity(orgs[NVI_URA], trust)))
        prs = stack.enter_context(served_node(
            str(tmp_path / "prs.db"), model, open_mode=False, port=prs_port, roles=("pseudonymiser",),
            localization_index=index.settings.base_url, **identity(orgs[PRS_URA], trust)))
        bases = {NVI_URA: index.settings.base_url, PRS_URA: prs.settings.base_url}
        write_trust_list(trust, [org.entry(**({"fhir_base": bases[ura]} if ura in bases else {}))
                                 for ura, org in orgs.items()])
        time.sleep(1.1)  # the nodes look at the trust list again after a second
        yield Network(index, prs, orgs, trust, database_url)
