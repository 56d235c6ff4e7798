"""Every failure is an OperationOutcome with the right status, and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from fixtures import patient


def _outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] in ("error", "fatal")
    return body


def _count(fhir: httpx.Client, res_type: str = "Patient") -> int:
    return fhir.get(res_type, params={"_summary": "count"}).json()["total"]


def test_malformed_json_is_400(fhir: httpx.Client) -> None:
    _outcome(fhir.post("Patient", content=b'{"resourceType": "Patient",', headers={"Content-Type": "application/fhir+json"}), 400)
    assert _count(fhir) == 0


@pytest.mark.parametrize("value", [b"1e400", b"NaN", b'"\\ud800"', b'"\xff"'])
def test_json_that_cannot_be_read_exactly_is_400(fhir: httpx.Client, value: bytes) -> None:
    body = b'{"resourceType": "Patient", "multipleBirthInteger": ' + value + b"}"
    _outcome(fhir.post("Patient", content=body, headers={"Content-Type": "application/fhir+json"}), 400)


def test_a_repeated_json_property_keeps_its_last_value(fhir: httpx.Client) -> None:
    """A documented choice (docs/node.md, Errors): orjson keeps the last, the node does not look for repeats."""
    body = b'{"resourceType": "Patient", "active": true, "active": false}'
    created = fhir.post("Patient", content=body, headers={"Content-Type": "application/fhir+json"})
    assert created.status_code == 201 and created.json()["active"] is False


def test_a_json_body_may_start_with_a_byte_order_mark_as_an_xml_body_may(fhir: httpx.Client) -> None:
    """RFC 8259: a parser may ignore a BOM; some clients send one."""
    body = b'\xef\xbb\xbf{"resourceType": "Patient", "active": true}'
    created = fhir.post("Patient", content=body, headers={"Content-Type": "application/fhir+json"})
    assert created.status_code == 201 and created.json()["active"] is True


def test_unsupported_content_type_is_415(fhir: httpx.Client) -> None:
    _outcome(fhir.post("Patient", content=b"<Patient/>", headers={"Content-Type": "text/plain"}), 415)


def test_unknown_formats_are_not_acceptable(fhir: httpx.Client) -> None:
    _outcome(fhir.get("Patient", params={"_format": "yaml"}), 406)
    assert fhir.get("Patient", headers={"Accept": "text/csv"}).status_code == 200  # Accept is a wish: JSON
    assert fhir.get("Patient", params={"_format": "json"}).status_code == 200


def test_method_not_allowed_is_405(fhir: httpx.Client) -> None:
    _outcome(fhir.delete(""), 405)
    _outcome(fhir.post("Patient/123"), 405)


def test_too_large_body_is_413(fhir: httpx.Client) -> None:
    big = patient(name=[{"family": "x" * 300_000}])
    _outcome(fhir.post("Patient", json=big), 413)
    assert _count(fhir) == 0


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "colour": "blue"},
        {"resourceType": "Patient", "gender": []},
        {"resourceType": "Patient", "birthDate": ["1950-01-01"]},
        {"resourceType": "Patient", "id": "not valid!"},
    ],
)
def test_invalid_resource_is_422(fhir: httpx.Client, resource: dict) -> None:
    _outcome(fhir.post("Patient", json=resource), 422)
    assert _count(fhir) == 0


def test_not_a_resource_is_400(fhir: httpx.Client) -> None:
    _outcome(fhir.post("Patient", json=[1, 2]), 400)
    _outcome(fhir.post("Patient", json={"name": "x"}), 400)


def test_create_on_existing_client_id_conflict_is_impossible_via_put(fhir: httpx.Client) -> None:
    fhir.put("Patient/p1", json={**patient(), "id": "p1"})
    again = fhir.put("Patient/p1", json={**patient(), "id": "p1"})
    assert again.status_code == 200
    assert again.json()["meta"]["versionId"] == "2"
