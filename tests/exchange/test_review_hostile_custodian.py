"""Review of retrieval against a custodian that answers more than it was asked: resources of a type the query did not
ask for, and data of another person, are dropped and reported, never passed on as the person's data; an answer too
large to hold, or a batch answer that does not match the batch, makes that custodian an ``error`` while the
rest answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from auth.orgs import OTHER_BSN, TEST_BSN, Organisation
from serving import served_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from samen.auth.client import TokenClient
from samen.exchange.bgz_queries import MEDICATION_SECTION, SECTIONS
from samen.exchange.custodians import Custodian
from samen.exchange.retrieval import ERROR, MAX_ANSWER_BYTES, OK, TIMEOUT, Ask, Fetched, Retrieval
from samen.sample import BSN

URA_ = "12340001"
HEALTHY_URA = "12340002"


class Tokens:
    """A token client that hands out one fixed token (the custodian below accepts any)."""

    def token(self, request: Any, *, timeout_s: float | None = None) -> str:
        return "token"

    def forget(self, request: Any) -> None:
        pass


class Directory:
    """Every URA at ``bases[ura]``."""

    def __init__(self, bases: dict[str, str]) -> None:
        self.bases = bases

    async def resolve(self, http: httpx.AsyncClient, ura: str, deadline: float) -> Custodian:
        base = self.bases[ura]
        return Custodian(ura, "Kliniek Vreemd", base, f"{base}/auth/token")


def person(res_id: str, bsn: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": res_id, "identifier": [{"system": BSN, "value": bsn}]}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def answer_for(query: str) -> dict[str, Any]:
    """What the hostile custodian answers to one query of the batch."""
    res_type = query.split("?")[0]
    if res_type == "Patient":  # the person, and someone else
        found = searchset(person("me", TEST_BSN), person("other", OTHER_BSN))
    elif res_type == "Condition":  # the person's problem, another person's, and a Patient it was not asked for
        found = searchset(
            {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/me"}, "code": {"text": "A"}},
            {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/other"}, "code": {"text": "B"}},
            {"resourceType": "Practitioner", "id": "x", "name": [{"family": "Niet gevraagd"}]})
    elif res_type == "MedicationRequest":
        found = searchset(
            {"resourceType": "MedicationRequest", "id": "m1", "subject": {"reference": "Patient/me"},
             "medicationCodeableConcept": {"text": "Metformine"}},
            {"resourceType": "MedicationRequest", "id": "m2", "subject": {"reference": "Patient/other"},
             "medicationCodeableConcept": {"text": "Insuline"}})
    else:
        found = searchset()
    return {"resource": found, "response": {"status": "200 OK"}}


def batch_response(entries: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"resourceType": "Bundle", "type": "batch-response", "entry": entries})


async def hostile_batch(request: Request) -> Response:
    body = await request.json()
    return batch_response([answer_for(e["request"]["url"]) for e in body["entry"]])


async def empty_batch(request: Request) -> Response:
    """A well-behaved custodian with nothing about the person: one empty searchset per query."""
    body = await request.json()
    return batch_response([{"resource": searchset(), "response": {"status": "200 OK"}} for _ in body["entry"]])


async def issue_token(request: Request) -> Response:
    return JSONResponse({"access_token": "token", "token_type": "Bearer", "expires_in": 60})


async def hang(request: Request) -> Response:
    """A token endpoint that never answers while the requester waits."""
    while not await request.is_disconnected():
        await asyncio.sleep(0.05)
    return Response(status_code=504)


@contextmanager
def custodian(batch: Callable[[Request], Any] = hostile_batch,
              token: Callable[[Request], Any] = issue_token) -> Iterator[str]:
    """A custodian on loopback that answers a POSTed batch with ``batch`` and its token endpoint (``/fhir/auth/token``)
    with ``token``; yields its FHIR base."""
    app = Starlette(routes=[Route("/fhir", batch, methods=["POST"]), Route("/fhir/auth/token", token, methods=["POST"])])
    with served_app(app) as base:
        yield f"{base}/fhir"


def hostile_custodian() -> Any:
    return custodian(hostile_batch)


def fetch_from(bases: dict[str, str], sections: tuple[Any, ...], timeout_s: float = 5.0,
               max_answer_bytes: int = MAX_ANSWER_BYTES) -> list[Fetched]:
    with ThreadPoolExecutor(2) as executor:
        retrieval = Retrieval(Tokens(), Directory(bases), executor,  # type: ignore[arg-type]
                              max_answer_bytes=max_answer_bytes)
        ask = Ask(TEST_BSN, "bgz", "system/*.rs", "attestation", sections)
        return asyncio.run(retrieval.fetch_all(list(bases), ask, timeout_s))


def fetch(base: str, sections: tuple[Any, ...]) -> Fetched:
    return fetch_from({URA_: base}, sections)[0]


def ids(fetched: Fetched, code: str) -> list[str]:
    return [f"{r['resourceType']}/{r['id']}" for r in fetched.resources.get(code, [])]


def test_another_persons_data_and_unasked_types_are_dropped_and_reported() -> None:
    with hostile_custodian() as base:
        fetched = fetch(base, SECTIONS)
    assert fetched.status == OK
    assert ids(fetched, "patient") == ["Patient/me"]
    assert ids(fetched, "problems") == ["Condition/c1"]
    assert ids(fetched, "medication") == ["MedicationRequest/m1"]
    assert "dropped" in fetched.reason and "another person" in fetched.reason and "Practitioner" in fetched.reason


def test_the_medication_overview_drops_another_persons_agreement() -> None:
    with hostile_custodian() as base:
        fetched = fetch(base, (MEDICATION_SECTION,))
    assert [i for i in ids(fetched, MEDICATION_SECTION.code) if not i.startswith("Patient/")] == \
        ["MedicationRequest/m1"]
    assert "another person" in fetched.reason


async def endless(request: Request) -> Response:
    """A batch answer that does not end while the requester listens (chunked, no length)."""
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Bundle", "type": "batch-response", "entry": [], "padding": "'
        while not await request.is_disconnected():
            yield b"x" * 65536

    return StreamingResponse(chunks(), media_type="application/fhir+json")


async def declared_huge(request: Request) -> Response:
    """A batch answer that announces more than the limit (and would send it)."""
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_ANSWER_BYTES // 65536 + 1):
            yield b" " * 65536

    return StreamingResponse(chunks(), media_type="application/fhir+json",
                             headers={"content-length": str(MAX_ANSWER_BYTES + 65536)})


def test_an_answer_over_the_size_limit_makes_that_custodian_an_error_and_the_rest_answers() -> None:
    # an endless answer (cut off at a limit of 1 MiB, to keep the test short), and one that announces 32 MiB + 64 KiB
    for batch, limit, said in ((endless, 2**20, "1 MiB"), (declared_huge, MAX_ANSWER_BYTES, "32 MiB")):
        with custodian(batch) as huge, custodian(hostile_batch) as other:
            started = time.perf_counter()
            flooded, answered = fetch_from({URA_: huge, HEALTHY_URA: other}, SECTIONS, timeout_s=30.0,
                                           max_answer_bytes=limit)
            elapsed = time.perf_counter() - started
        assert flooded.status == ERROR, (batch.__name__, flooded)
        assert f"exceeds {said}" in flooded.reason, flooded.reason
        assert flooded.resources == {}
        assert elapsed < 30.0  # cut off at the limit, not at the time limit
        assert answered.status == OK and ids(answered, "problems") == ["Condition/c1"]


def test_a_batch_answer_with_fewer_or_more_entries_than_queries_is_an_error() -> None:
    def answering(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Callable[[Request], Any]:
        async def batch(request: Request) -> Response:
            body = await request.json()
            return batch_response(change([answer_for(e["request"]["url"]) for e in body["entry"]]))
        return batch

    queries = sum(len(section.queries) for section in SECTIONS)
    for change, count in ((lambda entries: entries[1:], queries - 1),
                          (lambda entries: [*entries, entries[0]], queries + 1)):
        with custodian(answering(change)) as odd, custodian(empty_batch) as fine:
            mismatched, answered = fetch_from({URA_: odd, HEALTHY_URA: fine}, SECTIONS)
        assert mismatched.status == ERROR, mismatched
        assert f"{count} entries for {queries} queries" in mismatched.reason, mismatched.reason
        assert mismatched.resources == {}
        assert answered.status == OK, answered


def test_a_hanging_token_endpoint_holds_no_thread_beyond_its_custodians_time_limit(tmp_path: Path) -> None:
    """Many BgZ requests at once to a custodian whose token endpoint hangs: each token request ends with its
    custodian's time limit (not the HTTP client's 10 s), so the shared token threads stay free for the others."""
    tokens = TokenClient(Organisation.create(tmp_path, "12349999").keys, http=httpx.Client(timeout=10))
    with custodian(empty_batch, hang) as hanging, custodian(empty_batch) as healthy, \
            ThreadPoolExecutor(16) as executor:
        retrieval = Retrieval(tokens, Directory({URA_: hanging, HEALTHY_URA: healthy}), executor)  # type: ignore[arg-type]

        def bgz(professional: int) -> list[Fetched]:  # each professional's attestation asks for a token of its own
            ask = Ask(TEST_BSN, "bgz", "system/*.rs", f"attestation-{professional}", (MEDICATION_SECTION,))
            return asyncio.run(retrieval.fetch_all([URA_, HEALTHY_URA], ask, 1.0))

        with ThreadPoolExecutor(24) as callers:
            first = list(callers.map(bgz, range(24)))
        assert all(f.status == TIMEOUT for f, _ in first)
        later = [bgz(100 + n) for n in range(3)]  # after the first 24 ran out of time, before 10 s
        tokens.http.close()
    assert [(f.status, h.status) for f, h in later] == [(TIMEOUT, OK)] * 3, later
