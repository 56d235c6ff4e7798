"""Read, vread, create, update, patch and delete over HTTP."""

from __future__ import annotations

import httpx
from fixtures import patient

FHIR_JSON = "application/fhir+json"


def create(fhir: httpx.Client, resource: dict) -> httpx.Response:
    return fhir.post(resource["resourceType"], json=resource, headers={"Content-Type": FHIR_JSON})


def test_create_assigns_id_version_and_headers(fhir: httpx.Client) -> None:
    response = create(fhir, {**patient(), "id": "client-chosen"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Content-Type"].startswith(FHIR_JSON)


def test_read_returns_what_was_stored(fhir: httpx.Client) -> None:
    created = create(fhir, patient(family="de Vries")).json()
    read = fhir.get(f"Patient/{created['id']}")
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["ETag"] == 'W/"1"'


def test_read_unknown_is_404_with_operation_outcome(fhir: httpx.Client) -> None:
    response = fhir.get("Patient/does-not-exist")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "not-found"


def test_unknown_resource_type_is_404(fhir: httpx.Client) -> None:
    assert fhir.get("Patiënt/1").status_code == 404
    assert fhir.post("NoSuchType", json={"resourceType": "NoSuchType"}).status_code == 404


def test_update_makes_new_version_and_vread_keeps_old(fhir: httpx.Client) -> None:
    created = create(fhir, patient(family="Bakker")).json()
    changed = {**created, "gender": "male"}
    updated = fhir.put(f"Patient/{created['id']}", json=changed)
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    assert updated.headers["ETag"] == 'W/"2"'
    first = fhir.get(f"Patient/{created['id']}/_history/1")
    assert first.status_code == 200 and first.json()["gender"] == "female"
    assert fhir.get(f"Patient/{created['id']}/_history/2").json()["gender"] == "male"
    assert fhir.get(f"Patient/{created['id']}/_history/3").status_code == 404


def test_update_with_client_id_creates(fhir: httpx.Client) -> None:
    response = fhir.put("Patient/pat-1", json={**patient(), "id": "pat-1"})
    assert response.status_code == 201
    assert fhir.get("Patient/pat-1").json()["meta"]["versionId"] == "1"


def test_update_id_mismatch_or_missing_is_400(fhir: httpx.Client) -> None:
    assert fhir.put("Patient/a", json={**patient(), "id": "b"}).status_code == 400
    assert fhir.put("Patient/a", json=patient()).status_code == 400
    assert fhir.get("Patient/a").status_code == 404


def test_body_type_must_match_url(fhir: httpx.Client) -> None:
    response = fhir.post("Observation", json=patient())
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_if_match(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    url = f"Patient/{created['id']}"
    stale = fhir.put(url, json=created, headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    assert fhir.get(url).json()["meta"]["versionId"] == "1"
    fresh = fhir.put(url, json=created, headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200


def test_if_none_match_gives_304(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    response = fhir.get(f"Patient/{created['id']}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304


def test_delete_then_read_is_410_and_history_keeps_it(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    url = f"Patient/{created['id']}"
    assert fhir.delete(url).status_code == 204
    assert fhir.get(url).status_code == 410
    assert fhir.get(f"{url}/_history/1").status_code == 200
    history = fhir.get(f"{url}/_history").json()
    assert history["type"] == "history"
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert fhir.delete(url).status_code == 204  # idempotent


def test_update_after_delete_revives(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    url = f"Patient/{created['id']}"
    fhir.delete(url)
    revived = fhir.put(url, json=created)
    assert revived.status_code == 201
    assert revived.json()["meta"]["versionId"] == "3"


def test_json_patch(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    url = f"Patient/{created['id']}"
    ops = [{"op": "replace", "path": "/gender", "value": "other"}, {"op": "add", "path": "/active", "value": True}]
    response = fhir.patch(url, json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 200
    assert response.json()["gender"] == "other" and response.json()["active"] is True
    assert response.json()["meta"]["versionId"] == "2"


def test_json_patch_that_fails_changes_nothing(fhir: httpx.Client) -> None:
    created = create(fhir, patient()).json()
    url = f"Patient/{created['id']}"
    ops = [{"op": "test", "path": "/gender", "value": "male"}, {"op": "remove", "path": "/name"}]
    response = fhir.patch(url, json=ops, headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 422
    bad_element = [{"op": "add", "path": "/colour", "value": "blue"}]
    assert fhir.patch(url, json=bad_element, headers={"Content-Type": "application/json-patch+json"}).status_code == 422
    assert fhir.get(url).json() == created


def test_prefer_return(fhir: httpx.Client) -> None:
    minimal = fhir.post("Patient", json=patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert "Location" in minimal.headers
    outcome = fhir.post("Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"})
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    representation = fhir.post("Patient", json=patient(), headers={"Prefer": "return=representation"})
    assert representation.json()["resourceType"] == "Patient"


def test_summary_and_elements_on_read(fhir: httpx.Client) -> None:
    created = create(fhir, patient(text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"})).json()
    elements = fhir.get(f"Patient/{created['id']}", params={"_elements": "gender"}).json()
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    assert elements["meta"]["tag"][0]["code"] == "SUBSETTED"
    data = fhir.get(f"Patient/{created['id']}", params={"_summary": "data"}).json()
    assert "text" not in data and "name" in data
