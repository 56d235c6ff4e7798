"""Fetch a query set from every custodian at once: one asyncio task per custodian, each within its own time limit.

Per custodian: resolve its endpoints in the query directory, get a token there (bound to the person, with the
professional's attestation), send the whole query set as one FHIR ``batch`` of GET entries (one round trip; the
custodian judges, consents and audits each entry as if it came on its own), follow each result's ``next``
links as long as they stay on the custodian's own FHIR base (each answer read up to ``MAX_ANSWER_BYTES``), and drop what the answer should not hold
(:mod:`samen.exchange.screening`: another type, another person; reported in the reason). What goes wrong is reported for that custodian,
never raised: a refusal (403: the OperationOutcome's text, e.g. consent), a timeout (the custodian's total time,
directory and token included, over the limit), an unreachable node, any other error, or no endpoint at all.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.exchange.bgz_queries import SectionSpec, types_of
from samen.exchange.custodians import Custodian, DirectoryError, QueryDirectory, token_within
from samen.exchange.screening import person_ids, screen

OK, REFUSED, TIMEOUT, UNREACHABLE, ERROR, NOT_FOUND = "ok", "refused", "timeout", "unreachable", "error", "not-found"
MAX_PAGES = 50  # per query: a custodian that keeps sending next links is cut off here (reported)
MAX_ANSWER_BYTES = 32 * 2**20  # per answer (the batch, each next page): a larger one is cut off, the custodian an error
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Ask:
    """What to fetch and as whom: the person, the purpose and scopes of the token, the attestation, the queries."""

    bsn: str
    purpose: str
    scopes: str
    attestation: str
    sections: tuple[SectionSpec, ...]


@dataclass
class Fetched:
    """One custodian's answer: the resources per section code (in the custodian's order) and how it went."""

    custodian: Custodian
    status: str = OK
    reason: str = ""
    elapsed_ms: float = 0.0
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(found) for found in self.resources.values())


class Failure(Exception):
    """This custodian's retrieval ends with ``status`` for ``reason``."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Retrieval:
    """Fetches from custodians as this organisation (its token client) with the query directory's addresses."""

    def __init__(self, tokens: TokenClient, directory: QueryDirectory, executor: Executor, *,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        """``executor``: the threads that run the (blocking) token requests; not the event loop's default one,
        whose threads ``asyncio.run`` waits for, so a custodian's slow token endpoint cannot hold the answer.
        ``max_answer_bytes``: the most one answer of a custodian may hold, so that memory does not depend on it."""
        self.tokens = tokens
        self.directory = directory
        self.executor = executor
        self.max_answer_bytes = max_answer_bytes
        self.tls = httpx.create_ssl_context()  # made once: loading the CA certificates took 26-36 ms per client

    async def fetch_all(self, uras: list[str], ask: Ask, timeout_s: float) -> list[Fetched]:
        """Every custodian's answer, in the order of ``uras``; none of them raises or waits for another."""
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        async with httpx.AsyncClient(timeout=timeout_s, limits=limits, follow_redirects=False, verify=self.tls) as http:
            return list(await asyncio.gather(*(self._fetch_within(http, ura, ask, timeout_s) for ura in uras)))

    async def _fetch_within(self, http: httpx.AsyncClient, ura: str, ask: Ask, timeout_s: float) -> Fetched:
        started = time.perf_counter()
        fetched = Fetched(Custodian(ura))
        deadline = time.monotonic() + timeout_s
        try:
            await asyncio.wait_for(self._fetch(http, ura, ask, fetched, deadline), timeout_s)
        except TimeoutError:
            fetched.status, fetched.reason = TIMEOUT, f"no complete answer within {timeout_s:g} s"
            fetched.resources = {}
        except Failure as failure:
            fetched.status, fetched.reason = failure.status, failure.reason
            fetched.resources = {}
        except Exception as error:  # noqa: BLE001 - one custodian's fault is reported, never raised into the others
            fetched.status, fetched.reason = ERROR, f"unexpected failure: {error!r}"
            fetched.resources = {}
        fetched.elapsed_ms = (time.perf_counter() - started) * 1000
        return fetched

    async def _fetch(self, http: httpx.AsyncClient, ura: str, ask: Ask, fetched: Fetched, deadline: float) -> None:
        """``deadline`` (``time.monotonic()``): the end of this custodian's time, for the threads of its token requests,
        which ``asyncio.wait_for`` cannot stop."""
        try:
            custodian = await self.directory.resolve(http, ura, deadline)
        except DirectoryError as error:
            raise Failure(ERROR, str(error)) from error
        fetched.custodian = custodian
        if not custodian.fhir_base:
            raise Failure(NOT_FOUND, "the query directory lists no FHIR endpoint for this organisation")
        request = TokenRequest(custodian.token_endpoint, ask.purpose, ask.scopes, patient=ask.bsn,
                               professional_attestation=ask.attestation)
        queries = [(section.code, query) for section in ask.sections for query in section.queries]
        bundle = await self._batch(http, custodian, request, queries, deadline)
        refusals: list[str] = []
        failures: list[str] = []
        answered: list[tuple[str, str, list[dict[str, Any]]]] = []
        for (code, query), entry in zip(queries, bundle.get("entry") or [], strict=True):
            status, body = _entry_status(entry)
            if status == 403:
                refusals.append(_outcome_text(body) or f"{query}: refused")
            elif status != 200 or not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                failures.append(f"{query}: {status} {_outcome_text(body)}".strip())
            else:
                answered.append((code, query, await self._pages(http, custodian, request, body, deadline)))
        ids = person_ids([r for _, _, found in answered for r in found], ask.bsn)
        dropped: Counter[str] = Counter()
        for code, query, found in answered:
            kept = screen(found, types_of(query), ask.bsn, ids, custodian.fhir_base, dropped)
            fetched.resources.setdefault(code, []).extend(kept)
        if refusals and not fetched.resources:
            raise Failure(REFUSED, "; ".join(dict.fromkeys(refusals)))
        if failures and not fetched.resources and not refusals:
            raise Failure(ERROR, "; ".join(failures[:3]))
        notes = []
        if refusals:
            notes.append(f"{len(refusals)} of {len(queries)} queries refused: " + "; ".join(dict.fromkeys(refusals)))
        if failures:
            notes.append(f"{len(failures)} of {len(queries)} queries failed: " + "; ".join(failures[:3]))
        if dropped:
            notes.append("dropped from the answer: " + "; ".join(f"{n} {why}" for why, n in sorted(dropped.items())))
        fetched.reason = "; ".join(notes)

    async def _batch(self, http: httpx.AsyncClient, custodian: Custodian, request: TokenRequest,
                     queries: list[tuple[str, str]], deadline: float) -> dict[str, Any]:
        body = {"resourceType": "Bundle", "type": "batch",
                "entry": [{"request": {"method": "GET", "url": query}} for _, query in queries]}
        status, payload = await self._send(http, request, deadline, "POST", custodian.fhir_base, json=body)
        if status == 403:
            raise Failure(REFUSED, _outcome_text(payload) or "refused")
        if status != 200 or not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
            raise Failure(ERROR, f"the batch was answered {status} {_outcome_text(payload)}".strip())
        entries = payload.get("entry") or []
        if not isinstance(entries, list) or len(entries) != len(queries):  # answered entry by entry, in order
            raise Failure(ERROR, f"the batch answer has {len(entries)} entries for {len(queries)} queries: "
                                 "its answers cannot be matched to the queries")
        return payload

    async def _pages(self, http: httpx.AsyncClient, custodian: Custodian, request: TokenRequest,
                     page: dict[str, Any], deadline: float) -> list[dict[str, Any]]:
        """The resources of a searchset and of its next pages on the custodian's own base."""
        resources: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            resources.extend(entry["resource"] for entry in page.get("entry") or []
                             if isinstance(entry.get("resource"), dict)
                             and entry["resource"].get("resourceType") != "OperationOutcome")
            following = next((link.get("url", "") for link in page.get("link") or []
                              if link.get("relation") == "next"), "")
            if not following or not following.startswith(custodian.fhir_base + "/"):
                return resources  # no next page, or one on another base: not followed
            status, page = await self._send(http, request, deadline, "GET", following)
            if status != 200 or not isinstance(page, dict):
                raise Failure(REFUSED if status == 403 else ERROR,
                              f"a next page was answered {status} {_outcome_text(page)}".strip())
        raise Failure(ERROR, f"more than {MAX_PAGES} pages for one query")

    async def _send(self, http: httpx.AsyncClient, request: TokenRequest, deadline: float, method: str, url: str,
                    **kwargs: Any) -> tuple[int, Any]:
        """One request with this custodian's token: the status and the JSON body (None when not JSON), read only up
        to ``max_answer_bytes``; a 401 gets one fresh token (the cached one expired)."""
        for attempt in range(2):
            token = await self._token(request, deadline)
            headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
            try:
                async with http.stream(method, url, headers=headers, **kwargs) as answer:
                    if answer.status_code != 401 or attempt > 0:
                        return answer.status_code, _json(await self._read(answer, url))
            except httpx.TimeoutException as error:
                raise TimeoutError from error
            except httpx.HTTPError as error:
                raise Failure(UNREACHABLE, f"{url} unreachable: {type(error).__name__}") from error
            self.tokens.forget(request)
        raise Failure(REFUSED, "the custodian does not accept this organisation's token (401)")

    async def _read(self, answer: httpx.Response, url: str) -> bytes:
        """The body of ``answer``, or a :class:`Failure` as soon as it (announces it) exceeds ``max_answer_bytes``."""
        too_large = Failure(ERROR, f"the answer from {url} exceeds {self.max_answer_bytes / 2**20:g} MiB: not read")
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > self.max_answer_bytes:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def _token(self, request: TokenRequest, deadline: float) -> str:
        try:
            return await token_within(self.tokens, self.executor, request, deadline)
        except TokenRefused as error:
            cause = error.__cause__
            if isinstance(cause, httpx.TimeoutException):
                raise TimeoutError from error
            if isinstance(cause, httpx.HTTPError):
                raise Failure(UNREACHABLE, f"token endpoint {request.token_endpoint} unreachable: "
                                           f"{type(cause).__name__}") from error
            raise Failure(REFUSED, str(error)) from error


def _entry_status(entry: dict[str, Any]) -> tuple[int, Any]:
    response = entry.get("response") or {}
    try:
        status = int(str(response.get("status", "0")).split(" ")[0])
    except ValueError:
        status = 0
    return status, entry.get("resource") or response.get("outcome")


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _outcome_text(body: Any) -> str:
    """The diagnostics (or details text) of an OperationOutcome, joined; "" for anything else."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    texts = [issue.get("diagnostics") or (issue.get("details") or {}).get("text", "")
             for issue in body.get("issue") or [] if isinstance(issue, dict)]
    return "; ".join(text for text in texts if text)
