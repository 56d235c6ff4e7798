"""History at instance, type and system level, with _since, _at and _count."""

from __future__ import annotations

import time

import httpx
from fixtures import observation, patient


def test_type_and_system_history(fhir: httpx.Client) -> None:
    p = fhir.post("Patient", json=patient()).json()
    fhir.put(f"Patient/{p['id']}", json={**p, "gender": "male"})
    fhir.post("Observation", json=observation(f"Patient/{p['id']}"))
    type_history = fhir.get("Patient/_history").json()
    assert type_history["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in type_history["entry"]] == ["2", "1"]
    system_history = fhir.get("_history").json()
    assert system_history["total"] == 3
    assert system_history["entry"][0]["resource"]["resourceType"] == "Observation"


def test_history_since_at_and_count(fhir: httpx.Client) -> None:
    p = fhir.post("Patient", json=patient()).json()
    time.sleep(0.01)
    between = fhir.get(f"Patient/{p['id']}").json()["meta"]["lastUpdated"]
    time.sleep(0.01)
    v2 = fhir.put(f"Patient/{p['id']}", json={**p, "gender": "male"}).json()
    since = fhir.get(f"Patient/{p['id']}/_history", params={"_since": v2["meta"]["lastUpdated"]}).json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at = fhir.get(f"Patient/{p['id']}/_history", params={"_at": between}).json()
    assert [e["resource"]["meta"]["versionId"] for e in at["entry"]] == ["1"]
    page = fhir.get(f"Patient/{p['id']}/_history", params={"_count": "1"}).json()
    assert len(page["entry"]) == 1 and page["total"] == 2
    next_url = [link["url"] for link in page["link"] if link["relation"] == "next"][0]
    second = httpx.get(next_url).json()
    assert [e["resource"]["meta"]["versionId"] for e in second["entry"]] == ["1"]


def test_history_of_unknown_resource_is_404(fhir: httpx.Client) -> None:
    assert fhir.get("Patient/nope/_history").status_code == 404


def test_bad_since_is_400(fhir: httpx.Client) -> None:
    assert fhir.get("_history", params={"_since": "yesterday"}).status_code == 400


def test_history_at_a_date_covers_the_whole_day(fhir: httpx.Client) -> None:
    p = fhir.post("Patient", json=patient()).json()
    fhir.put(f"Patient/{p['id']}", json={**p, "gender": "male"})
    today = p["meta"]["lastUpdated"][:10]
    at = fhir.get(f"Patient/{p['id']}/_history", params={"_at": today}).json()
    assert sorted(e["resource"]["meta"]["versionId"] for e in at["entry"]) == ["1", "2"]
    assert fhir.get(f"Patient/{p['id']}/_history", params={"_at": "2001-01-01"}).json()["total"] == 0
