"""Conditional create, update, patch and delete."""

from __future__ import annotations

import httpx
from fixtures import BSN, patient

IDENTIFIER = f"identifier={BSN}|999911120"


def test_conditional_create(fhir: httpx.Client) -> None:
    first = fhir.post("Patient", json=patient(), headers={"If-None-Exist": IDENTIFIER})
    assert first.status_code == 201
    second = fhir.post("Patient", json=patient(), headers={"If-None-Exist": IDENTIFIER})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert fhir.get("Patient", params={"_summary": "count"}).json()["total"] == 1


def test_conditional_create_with_several_matches_is_412(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient(family="Smit"))
    fhir.post("Patient", json=patient(family="Smit"))
    response = fhir.post("Patient", json=patient(), headers={"If-None-Exist": "family=Smit"})
    assert response.status_code == 412


def test_conditional_update_creates_then_updates(fhir: httpx.Client) -> None:
    created = fhir.put(f"Patient?{IDENTIFIER}", json=patient())
    assert created.status_code == 201
    updated = fhir.put(f"Patient?{IDENTIFIER}", json=patient(gender="male"))
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"


def test_conditional_update_with_several_matches_is_412(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient(family="Smit"))
    fhir.post("Patient", json=patient(family="Smit"))
    assert fhir.put("Patient?family=Smit", json=patient()).status_code == 412


def test_conditional_delete(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient()).json()
    assert fhir.delete(f"Patient?{IDENTIFIER}").status_code == 204
    assert fhir.get(f"Patient/{created['id']}").status_code == 410
    assert fhir.delete(f"Patient?{IDENTIFIER}").status_code == 204


def test_conditional_patch(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient())
    ops = [{"op": "replace", "path": "/gender", "value": "unknown"}]
    response = fhir.patch(f"Patient?{IDENTIFIER}", json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 200
    assert response.json()["gender"] == "unknown"


def test_conditional_criteria_with_reserved_characters(fhir: httpx.Client) -> None:
    phone = [{"system": "phone", "value": "+31 6 12&34"}]
    created = fhir.put("Patient", params={"phone": "+31 6 12&34"}, json=patient(telecom=phone))
    assert created.status_code == 201
    again = fhir.put("Patient", params={"phone": "+31 6 12&34"}, json=patient(telecom=phone, gender="male"))
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    assert fhir.delete("Patient", params={"phone": "+31 6 12&34"}).status_code == 204
    assert fhir.get(f"Patient/{created.json()['id']}").status_code == 410


def test_delete_with_stale_if_match_is_412_and_deletes_nothing(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient()).json()
    fhir.put(f"Patient/{created['id']}", json=created)
    assert fhir.delete(f"Patient/{created['id']}", headers={"If-Match": 'W/"1"'}).status_code == 412
    assert fhir.get(f"Patient/{created['id']}").status_code == 200
    assert fhir.delete(f"Patient/{created['id']}", headers={"If-Match": 'W/"2"'}).status_code == 204
