"""Validation on the node: every write path refuses invalid resources with 422, and $validate explains why."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from fixtures import patient
from serving import served_node

from samen.fhir.model import Model
from samen.node import Node


def _issues(response: httpx.Response, status: int) -> list[dict]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def _errors(issues: list[dict]) -> list[dict]:
    return [issue for issue in issues if issue["severity"] in ("error", "fatal")]


def _count(fhir: httpx.Client, res_type: str = "Patient") -> int:
    return fhir.get(res_type, params={"_summary": "count"}).json()["total"]


def test_an_invalid_create_is_refused_with_the_element_named(fhir: httpx.Client) -> None:
    errors = _errors(_issues(fhir.post("Patient", json={**patient(), "gender": "mannetje"}), 422))
    assert [(e["code"], e["expression"]) for e in errors] == [("code-invalid", ["Patient.gender"])]
    assert _count(fhir) == 0


def test_invalid_updates_and_patches_change_nothing(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient()).json()
    path = f"Patient/{created['id']}"
    bad = {**created, "birthDate": "1970-13-45"}
    assert _errors(_issues(fhir.put(path, json=bad), 422))[0]["expression"] == ["Patient.birthDate"]
    patch = [{"op": "add", "path": "/active", "value": "yes"}]
    response = fhir.patch(path, content=orjson.dumps(patch), headers={"Content-Type": "application/json-patch+json"})
    assert _errors(_issues(response, 422))[0]["expression"] == ["Patient.active"]
    assert fhir.get(path).json()["meta"]["versionId"] == "1"


def test_warnings_do_not_block_a_write(fhir: httpx.Client) -> None:
    unknown = {"url": "http://example.org/fhir/StructureDefinition/shoe-size", "valueInteger": 44}
    response = fhir.post("Patient", json={**patient(), "extension": [unknown]})
    assert response.status_code == 201, response.text


def test_a_transaction_with_one_invalid_entry_stores_nothing(fhir: httpx.Client) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
            {"resource": {**patient(), "gender": "x"}, "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    response = fhir.post("", json=bundle)
    assert response.status_code in (400, 422), response.text
    assert "Patient.gender" in response.text
    assert _count(fhir) == 0


def test_the_first_issue_of_a_refused_entry_names_the_entry_and_its_own_problem(fhir: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": {**patient(), "gender": "x", "birthDate": "1950-02-30"},
                         "request": {"method": "POST", "url": "Patient"}}]}
    issues = _issues(fhir.post("", json=bundle), 422)
    first, others = issues[0], issues[1:]
    assert first["diagnostics"].startswith("Bundle.entry[0] (POST Patient): ")
    mentioned = [text in first["diagnostics"] for text in ("1950-02-30", "The code x", "dom-6")]
    assert mentioned.count(True) == 1, first  # its own problem, not every issue's
    assert len(_errors(issues)) == 2 and any("dom-6" in issue["diagnostics"] for issue in others)


def test_validate_answers_200_with_the_issues(fhir: httpx.Client) -> None:
    valid = _issues(fhir.post("Patient/$validate", json=patient()), 200)
    assert not _errors(valid) and valid[-1]["severity"] == "information"
    invalid = _issues(fhir.post("Patient/$validate", json={**patient(), "deceasedBoolean": "no"}), 200)
    assert _errors(invalid)[0]["expression"] == ["Patient.deceased"] or _errors(invalid)[0]["expression"] == [
        "Patient.deceasedBoolean"
    ]
    assert _count(fhir) == 0  # $validate stores nothing


def test_validate_takes_parameters_and_modes(fhir: httpx.Client) -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": {**patient(), "id": "a"}}, {"name": "mode", "valueCode": "update"}],
    }
    mismatch = _issues(fhir.post("Patient/b/$validate", json=parameters), 200)
    assert "differs from the URL id" in _errors(mismatch)[0]["diagnostics"]
    assert not _errors(_issues(fhir.post("Patient/a/$validate", json=parameters), 200))
    _issues(fhir.post("Patient/$validate", json=parameters), 400)  # update needs the instance level
    _issues(fhir.post("Patient/nobody/$validate", params={"mode": "delete"}), 404)
    _issues(fhir.post("Patient/$validate", params={"mode": "sideways"}, json=patient()), 400)
    _issues(fhir.post("Patient/$validate"), 400)
    _issues(fhir.post("Patient/$validate", json={"resourceType": "Parameters", "parameter": ["x"]}), 400)
    listed = {"resourceType": "Parameters", "parameter": [{"name": "profile", "valueCanonical": ["a", "b"]}]}
    _issues(fhir.post("Patient/$validate", json=listed), 400)


def test_validate_against_a_named_profile(fhir: httpx.Client) -> None:
    vitals = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    issues = _issues(fhir.post("Observation/$validate", params={"profile": vitals}, json=observation), 200)
    assert any("Observation.subject" in " ".join(e.get("expression", [])) or e["code"] == "required"
               for e in _errors(issues))
    _issues(fhir.post("Observation/$validate", params={"profile": "http://example.org/nope"}, json=observation), 400)


def test_the_capability_statement_is_itself_valid(fhir: httpx.Client, node: Node) -> None:
    statement = fhir.get("metadata").json()  # larger than this test node's body limit, so validated in-process
    assert "application/fhir+xml" in statement["format"]
    issues = node.admission.issues(statement)
    assert not [issue for issue in issues if issue.severity == "error"], issues[:3]


@pytest.fixture
def lenient(database_url: str, model: Model) -> Iterator[httpx.Client]:
    with served_node(database_url, model, validate=False) as node:
        with httpx.Client(base_url=node.settings.base_url + "/") as client:
            yield client


def test_with_validation_off_only_structure_is_checked(lenient: httpx.Client) -> None:
    assert lenient.post("Patient", json={**patient(), "gender": "mannetje"}).status_code == 201
    assert lenient.post("Patient", json={**patient(), "colour": "blue"}).status_code == 422



def _nested_questionnaire(levels: int) -> bytes:
    """A Questionnaire whose items nest ``levels`` deep, as JSON text (too deep for orjson to write)."""
    item = '{"linkId": "leaf", "type": "string"}'
    for level in range(levels):
        item = f'{{"linkId": "g{level}", "type": "group", "item": [{item}]}}'
    return f'{{"resourceType": "Questionnaire", "status": "draft", "item": [{item}]}}'.encode()


def test_resources_nested_deeper_than_the_node_stores_are_refused(fhir: httpx.Client, lenient: httpx.Client) -> None:
    headers = {"Content-Type": "application/fhir+json"}
    for client in (fhir, lenient):
        assert client.post("Questionnaire", content=_nested_questionnaire(60), headers=headers).status_code == 201
        for levels in (100, 300):
            issues = _issues(client.post("Questionnaire", content=_nested_questionnaire(levels), headers=headers), 422)
            assert issues[0]["code"] == "too-costly" and "128 levels" in issues[0]["diagnostics"], issues
    found = fhir.post("Questionnaire/$validate", content=_nested_questionnaire(100), headers=headers)
    assert _errors(_issues(found, 200))[0]["code"] == "too-costly"
    assert fhir.get("Questionnaire").status_code == 200  # what was stored can be answered in a Bundle
