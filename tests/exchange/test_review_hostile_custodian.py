"""Review of retrieval against a custodian that answers more than it was asked: resources of a type the query did not
ask for, and data of another person, are dropped and reported, never passed on as the person's data."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from auth.orgs import OTHER_BSN, TEST_BSN
from serving import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from samen.exchange.bgz_queries import MEDICATION_SECTION, SECTIONS
from samen.exchange.custodians import Custodian
from samen.exchange.retrieval import OK, Ask, Fetched, Retrieval
from samen.sample import BSN

URA_ = "12340001"


class Tokens:
    """A token client that hands out one fixed token (the custodian below accepts any)."""

    def token(self, request: Any) -> str:
        return "token"

    def forget(self, request: Any) -> None:
        pass


class Directory:
    def __init__(self, base: str) -> None:
        self.base = base

    async def resolve(self, http: httpx.AsyncClient, ura: str) -> Custodian:
        return Custodian(ura, "Kliniek Vreemd", self.base, f"{self.base}/auth/token")


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


@contextmanager
def hostile_custodian() -> Iterator[str]:
    async def batch(request: Request) -> JSONResponse:
        body = await request.json()
        entries = [answer_for(e["request"]["url"]) for e in body["entry"]]
        return JSONResponse({"resourceType": "Bundle", "type": "batch-response", "entry": entries})

    port = free_port()
    app = Starlette(routes=[Route("/fhir", batch, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def fetch(base: str, sections: tuple[Any, ...]) -> Fetched:
    with ThreadPoolExecutor(2) as executor:
        retrieval = Retrieval(Tokens(), Directory(base), executor)  # type: ignore[arg-type]
        ask = Ask(TEST_BSN, "bgz", "system/*.rs", "attestation", sections)
        return asyncio.run(retrieval.fetch_all([URA_], ask, 5.0))[0]


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
