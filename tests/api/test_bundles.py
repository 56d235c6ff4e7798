"""Batch and transaction Bundles."""

from __future__ import annotations

import httpx
from fixtures import BSN, observation, patient


def _post(fhir: httpx.Client, kind: str, entries: list[dict]) -> httpx.Response:
    return fhir.post("", json={"resourceType": "Bundle", "type": kind, "entry": entries})


def _count(fhir: httpx.Client, res_type: str) -> int:
    return fhir.get(res_type, params={"_summary": "count"}).json()["total"]


def test_transaction_rewrites_urn_uuid_references(fhir: httpx.Client) -> None:
    entries = [
        {"fullUrl": "urn:uuid:0b2b4d4e-1111-4c1c-9c1d-000000000002", "resource": observation("urn:uuid:0b2b4d4e-1111-4c1c-9c1d-000000000001"),
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:0b2b4d4e-1111-4c1c-9c1d-000000000001", "resource": patient(),
         "request": {"method": "POST", "url": "Patient"}},
    ]
    response = _post(fhir, "transaction", entries)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    assert [e["response"]["status"] for e in bundle["entry"]] == ["201 Created", "201 Created"]
    patient_id = bundle["entry"][1]["resource"]["id"]
    assert bundle["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    stored = fhir.get(bundle["entry"][0]["response"]["location"].split("/_history")[0]).json()
    assert stored["subject"]["reference"] == f"Patient/{patient_id}"


def test_transaction_resolves_conditional_references(fhir: httpx.Client) -> None:
    existing = fhir.post("Patient", json=patient()).json()
    entries = [{"resource": observation(f"Patient?identifier={BSN}|999911120"), "request": {"method": "POST", "url": "Observation"}}]
    bundle = _post(fhir, "transaction", entries).json()
    assert bundle["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"


def test_transaction_with_ambiguous_conditional_reference_fails_whole(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient(family="Smit"))
    fhir.post("Patient", json=patient(family="Smit"))
    entries = [
        {"resource": patient(family="Nieuw"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": observation("Patient?family=Smit"), "request": {"method": "POST", "url": "Observation"}},
    ]
    assert _post(fhir, "transaction", entries).status_code == 412
    assert _count(fhir, "Patient") == 2 and _count(fhir, "Observation") == 0


def test_transaction_whose_fifth_entry_is_invalid_stores_nothing(fhir: httpx.Client) -> None:
    entries = [{"resource": patient(family=f"P{i}"), "request": {"method": "POST", "url": "Patient"}} for i in range(4)]
    entries.append({"resource": {"resourceType": "Patient", "colour": "blue"}, "request": {"method": "POST", "url": "Patient"}})
    entries.append({"resource": patient(family="P6"), "request": {"method": "POST", "url": "Patient"}})
    response = _post(fhir, "transaction", entries)
    assert response.status_code == 422
    assert "entry[4]" in response.json()["issue"][0]["diagnostics"]
    assert _count(fhir, "Patient") == 0


def test_transaction_processing_order(fhir: httpx.Client) -> None:
    fhir.put("Patient/old", json={**patient(), "id": "old"})
    entries = [
        {"request": {"method": "GET", "url": "Patient?_id=old,new"}},
        {"resource": {**patient(), "id": "new"}, "request": {"method": "PUT", "url": "Patient/new"}},
        {"request": {"method": "DELETE", "url": "Patient/old"}},
    ]
    bundle = _post(fhir, "transaction", entries).json()
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["200 OK", "201 Created", "204 No Content"]
    searched = bundle["entry"][0]["resource"]
    assert [e["resource"]["id"] for e in searched.get("entry", [])] == ["new"]


def test_transaction_conditional_create(fhir: httpx.Client) -> None:
    existing = fhir.post("Patient", json=patient()).json()
    entries = [
        {"fullUrl": "urn:uuid:9f0e7c4b-2222-4c1c-9c1d-000000000001", "resource": patient(),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={BSN}|999911120"}},
        {"resource": observation("urn:uuid:9f0e7c4b-2222-4c1c-9c1d-000000000001"), "request": {"method": "POST", "url": "Observation"}},
    ]
    bundle = _post(fhir, "transaction", entries).json()
    assert bundle["entry"][0]["response"]["status"] == "200 OK"
    assert bundle["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert _count(fhir, "Patient") == 1


def test_batch_entries_succeed_or_fail_on_their_own(fhir: httpx.Client) -> None:
    entries = [
        {"resource": patient(family="Goed"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "colour": "blue"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
    ]
    response = _post(fhir, "batch", entries)
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in bundle["entry"]]
    assert statuses == ["201", "422", "404"]
    assert bundle["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert _count(fhir, "Patient") == 1


def test_bad_bundles_are_400(fhir: httpx.Client) -> None:
    assert fhir.post("", json={"resourceType": "Patient"}).status_code == 400
    assert fhir.post("", json={"resourceType": "Bundle", "type": "collection"}).status_code == 400
    bad_entry = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": patient()}]}
    assert fhir.post("", json=bad_entry).status_code == 400


def test_transaction_conditional_update_fullurl_is_rewritten(fhir: httpx.Client) -> None:
    patient_url = "urn:uuid:7a1c2d3e-3333-4c1c-9c1d-000000000001"
    entries = [
        {"fullUrl": patient_url, "resource": patient(),
         "request": {"method": "PUT", "url": f"Patient?identifier={BSN}|999911120"}},
        {"resource": observation(patient_url), "request": {"method": "POST", "url": "Observation"}},
    ]
    bundle = _post(fhir, "transaction", entries).json()
    patient_id = bundle["entry"][0]["resource"]["id"]
    assert bundle["entry"][0]["response"]["status"] == "201 Created"
    assert bundle["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    again = _post(fhir, "transaction", entries).json()
    assert again["entry"][0]["response"]["status"] == "200 OK"
    assert again["entry"][0]["resource"]["id"] == patient_id
    assert _count(fhir, "Patient") == 1


def test_transaction_with_the_same_if_none_exist_twice_creates_once(fhir: httpx.Client) -> None:
    criteria = f"identifier={BSN}|999911120"
    entries = [
        {"resource": patient(), "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}},
        {"resource": patient(), "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}},
    ]
    bundle = _post(fhir, "transaction", entries).json()
    assert [e["response"]["status"] for e in bundle["entry"]] == ["201 Created", "200 OK"]
    assert _count(fhir, "Patient") == 1


def test_transaction_deletes_come_before_conditional_creates(fhir: httpx.Client) -> None:
    old = fhir.post("Patient", json=patient()).json()
    criteria = f"identifier={BSN}|999911120"
    entries = [
        {"resource": patient(family="Nieuw"), "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}},
        {"request": {"method": "DELETE", "url": f"Patient/{old['id']}"}},
    ]
    bundle = _post(fhir, "transaction", entries).json()
    assert [e["response"]["status"] for e in bundle["entry"]] == ["201 Created", "204 No Content"]
    assert bundle["entry"][0]["resource"]["id"] != old["id"]
    assert fhir.get(f"Patient/{old['id']}").status_code == 410
