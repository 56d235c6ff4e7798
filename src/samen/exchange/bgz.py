"""The Exchange service (``node.services["exchange"]``): a person's BgZ and medication overview from every custodian.

Installed on every node (a FEATURE) that has an identity (``keys_dir``) and knows the query directory, the
localization index and the pseudonymiser. Synchronous for its callers (the web layer calls it in a thread),
concurrent inside: localize the custodians, then one asyncio task per custodian (directory, token, batch of
queries, next pages) within ``exchange_timeout_s``, then merge. docs/exchange.md describes it.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from samen.auth.client import TokenClient
from samen.auth.keys import KeyStore
from samen.auth.policy import BGZ
from samen.directory.localization_client import LocalizationClient, LocalizationError, trusted_ura
from samen.exchange import medication
from samen.exchange.bgz_queries import SECTIONS, scopes
from samen.exchange.custodians import QueryDirectory, localize
from samen.exchange.merge import SECTION_EXTENSION, CustodianReport, Entry, collection_bundle, merge, report
from samen.exchange.retrieval import Ask, Fetched, Retrieval
from samen.settings import Settings

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "exchange"
BGZ_SCOPES = scopes(SECTIONS)


@dataclass(frozen=True)
class Section:
    code: str  # stable key, e.g. "problems", "allergies", "medication", "lab-results"
    title_nl: str
    title_en: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class BgzResult:
    bsn: str
    sections: tuple[Section, ...]  # in BgZ order; empty sections included
    custodians: tuple[CustodianReport, ...]
    elapsed_ms: float

    def to_bundle(self) -> dict[str, Any]:
        """A collection Bundle: the entries of every section (entry extension ``exchange-section``) with their
        sources, and an OperationOutcome with an issue per custodian (how it answered or why not)."""
        return collection_bundle(
            ((entry, {"extension": [{"url": SECTION_EXTENSION, "valueCode": section.code}]})
             for section in self.sections for entry in section.entries),
            self.custodians, "BgZ")


class LocalizationFailed(Exception):
    """The custodians of the person could not be found (pseudonymiser or index refused or unreachable)."""


class Exchange:
    """Retrieves as this organisation (its keys) through one index, pseudonymiser and query directory."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.timeout_s = settings.exchange_timeout_s
        self.tokens = TokenClient(keys, http=httpx.Client(timeout=settings.exchange_timeout_s))
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="samen-exchange")
        index_ura = trusted_ura(settings.trust_list, settings.localization_index) if settings.trust_list else ""
        self.localization = LocalizationClient(self.tokens, index=settings.localization_index, index_ura=index_ura,
                                               pseudonymiser=settings.pseudonymiser,
                                               http=httpx.Client(timeout=settings.exchange_timeout_s))
        self.retrieval = Retrieval(self.tokens, QueryDirectory(settings.query_directory, self.tokens, self.executor),
                                   self.executor)

    def bgz(self, bsn: str, *, attestation: str, timeout_s: float | None = None) -> BgzResult:
        """The person's BgZ from every custodian the index names; raises :class:`LocalizationFailed`."""
        started = time.perf_counter()
        answers = self.fetch(bsn, BGZ, BGZ_SCOPES, attestation, SECTIONS, timeout_s)
        sections = tuple(
            Section(spec.code, spec.title_nl, spec.title_en,
                    tuple(merge((fetched, fetched.resources.get(spec.code, [])) for fetched in answers)))
            for spec in SECTIONS)
        return BgzResult(bsn, sections, tuple(report(fetched) for fetched in answers),
                         round((time.perf_counter() - started) * 1000, 1))

    def medication_overview(self, bsn: str, *, attestation: str,
                            timeout_s: float | None = None) -> medication.MedicationOverview:
        """Agreements, dispenses and use from every custodian, newest first (purpose medication-transfer)."""
        return medication.overview(self, bsn, attestation=attestation, timeout_s=timeout_s)

    def fetch(self, bsn: str, purpose: str, token_scopes: str, attestation: str, sections: tuple[Any, ...],
              timeout_s: float | None) -> list[Fetched]:
        """Every custodian's answer to ``sections`` for ``bsn``, in the index's order."""
        try:
            uras = localize(self.localization, bsn)
        except LocalizationError as error:
            raise LocalizationFailed(f"the custodians could not be localized: {error}") from error
        ask = Ask(bsn, purpose, token_scopes, attestation, sections)
        return asyncio.run(self.retrieval.fetch_all(uras, ask, timeout_s or self.timeout_s))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.tokens.http.close()
        self.localization.http.close()


def install(node: Node) -> None:
    """Switch the service on when the node has an identity and knows the index, pseudonymiser and query directory."""
    settings = node.settings
    keys = node.auth.keys
    if keys is None or not (settings.query_directory and settings.localization_index and settings.pseudonymiser):
        return
    exchange = Exchange(settings, keys)
    node.services[SERVICE] = exchange
    node.closers.append(exchange.close)
    from samen.exchange.operations import register

    register(node, exchange)

