"""Concurrent writers: no lost update, no duplicate conditional create."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from fixtures import BSN, patient


def test_concurrent_updates_never_lose_a_write(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient()).json()
    url = f"Patient/{created['id']}"

    def bump(i: int) -> int:
        return fhir.put(url, json={**created, "name": [{"family": f"F{i}"}]}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(bump, range(40)))
    assert statuses == [200] * 40
    history = fhir.get(f"{url}/_history", params={"_count": "100"}).json()
    assert history["total"] == 41
    assert fhir.get(url).json()["meta"]["versionId"] == "41"


def test_if_match_race_has_exactly_one_winner(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient()).json()
    url = f"Patient/{created['id']}"

    def attempt(i: int) -> int:
        body = {**created, "name": [{"family": f"F{i}"}]}
        return fhir.put(url, json=body, headers={"If-Match": 'W/"1"'}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert sorted(statuses) == [200] + [412] * 15


def test_concurrent_conditional_creates_make_one_resource(fhir: httpx.Client) -> None:
    def attempt(_: int) -> int:
        headers = {"If-None-Exist": f"identifier={BSN}|123456782"}
        return fhir.post("Patient", json=patient(bsn="123456782"), headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert statuses.count(201) == 1 and statuses.count(200) == 15
    assert fhir.get("Patient", params={"identifier": f"{BSN}|123456782"}).json()["total"] == 1
