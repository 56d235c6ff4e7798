"""The terminology operations over real HTTP: $lookup, $validate-code (CodeSystem and ValueSet) and
$expand, by GET and by POST, with good and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import served_node

from samen.api.terminology_operations import register
from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
CONDITION_CODE_VS = "http://hl7.org/fhir/ValueSet/condition-code"


@pytest.fixture(scope="module")
def fhir(tmp_path_factory: pytest.TempPathFactory, model: Model, conformance: Conformance) -> Iterator[httpx.Client]:
    """A node (SQLite; terminology does not touch the store) with the terminology operations."""
    database = str(Path(tmp_path_factory.mktemp("terminology")) / "node.db")
    with served_node(database, model) as node:
        register(node.router, Terminology(conformance))
        headers = {"Accept": "application/fhir+json"}
        with httpx.Client(base_url=node.settings.base_url + "/", headers=headers, timeout=30) as client:
            yield client


def _parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


def _values(body: dict[str, Any]) -> dict[str, Any]:
    """name -> value of the single-valued output parameters."""
    return {
        p["name"]: next((v for k, v in p.items() if k.startswith("value") or k == "resource"), None)
        for p in body["parameter"]
    }


def _issue(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


# -- $lookup --------------------------------------------------------------------------------------


def test_lookup_by_get(fhir: httpx.Client) -> None:
    response = fhir.get("CodeSystem/$lookup", params={"system": ACT_CODE, "code": "IMP"})
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "Parameters"
    values = _values(body)
    assert values["display"] == "inpatient encounter" and values["name"] == "v3 Code System ActCode"
    properties = [{part["name"]: part for part in p["part"]} for p in body["parameter"] if p["name"] == "property"]
    parents = [p["value"]["valueCode"] for p in properties if p["code"]["valueCode"] == "parent"]
    assert parents == ["_ActEncounterCode"]


def test_lookup_by_post_with_a_coding_and_chosen_properties(fhir: httpx.Client) -> None:
    body = _parameters({"name": "coding", "valueCoding": {"system": ACT_CODE, "code": "IMP"}},
                       {"name": "property", "valueCode": "child"})
    response = fhir.post("CodeSystem/$lookup", json=body)
    assert response.status_code == 200
    codes = {part["part"][0]["valueCode"] for part in response.json()["parameter"] if part["name"] == "property"}
    assert codes == {"child"}


def test_lookup_errors(fhir: httpx.Client) -> None:
    unknown = fhir.get("CodeSystem/$lookup", params={"system": ACT_CODE, "code": "NOPE"})
    assert unknown.status_code == 404 and "NOPE" in _issue(unknown)["diagnostics"]
    missing = fhir.get("CodeSystem/$lookup", params={"system": ACT_CODE})
    assert missing.status_code == 400 and _issue(missing)["code"] == "invalid"
    snomed = fhir.get("CodeSystem/$lookup", params={"system": SNOMED, "code": "195967001"})
    assert snomed.status_code == 422 and _issue(snomed)["code"] == "not-supported"
    not_parameters = fhir.post("CodeSystem/$lookup", json={"resourceType": "Patient"})
    assert not_parameters.status_code == 400


# -- $validate-code -------------------------------------------------------------------------------


def test_validate_code_by_get(fhir: httpx.Client) -> None:
    good = fhir.get("ValueSet/$validate-code", params={"url": GENDER_VS, "system": GENDER, "code": "female"})
    assert good.status_code == 200 and _values(good.json()) == {"result": True, "display": "Female"}
    bad = _values(fhir.get("ValueSet/$validate-code", params={"url": GENDER_VS, "system": GENDER, "code": "f"}).json())
    assert bad["result"] is False and GENDER_VS in bad["message"]
    assert bad["issues"]["issue"][0]["severity"] == "error"


def test_validate_code_on_an_instance(fhir: httpx.Client) -> None:
    response = fhir.get("ValueSet/administrative-gender/$validate-code", params={"system": GENDER, "code": "male"})
    assert response.status_code == 200 and _values(response.json())["result"] is True
    unknown = fhir.get("ValueSet/no-such-id/$validate-code", params={"system": GENDER, "code": "male"})
    assert unknown.status_code == 404


def test_validate_a_codeable_concept_by_post(fhir: httpx.Client) -> None:
    concept = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}, {"system": GENDER, "code": "other"}]}
    body = _parameters(
        {"name": "url", "valueUri": GENDER_VS}, {"name": "codeableConcept", "valueCodeableConcept": concept}
    )
    response = fhir.post("ValueSet/$validate-code", json=body)
    assert response.status_code == 200 and _values(response.json())["result"] is True


def test_validate_against_an_inline_value_set(fhir: httpx.Client) -> None:
    value_set = {"resourceType": "ValueSet", "status": "active",
                 "compose": {"include": [{"system": ACT_CODE, "filter": [{"property": "concept", "op": "is-a",
                                                                          "value": "_ActEncounterCode"}]}]}}
    coding = {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"}
    body = _parameters({"name": "valueSet", "resource": value_set}, {"name": "coding", "valueCoding": coding})
    assert _values(fhir.post("ValueSet/$validate-code", json=body).json())["result"] is True


def test_an_undecidable_code_is_not_reported_valid(fhir: httpx.Client) -> None:
    params = {"url": CONDITION_CODE_VS, "coding": f"{SNOMED}|195967001"}
    values = _values(fhir.get("ValueSet/$validate-code", params=params).json())
    assert values["result"] is False and "only the syntax of the code was checked" in values["message"]
    assert values["issues"]["issue"][0] == {
        "severity": "warning", "code": "not-supported", "diagnostics": values["message"]
    }


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"system": GENDER, "code": "male"}, 400),  # no value set
        ({"url": "http://example.org/ValueSet/none", "code": "male"}, 404),
        ({"url": GENDER_VS, "code": "male", "coding": f"{GENDER}|male"}, 400),  # two ways to give the code
        ({"url": GENDER_VS}, 400),  # no code
        ({"url": GENDER_VS, "code": "male", "abstract": "maybe"}, 400),
        ({"url": GENDER_VS, "valueSet": "x", "code": "male"}, 400),  # a resource in a query string
    ],
)
def test_validate_code_refuses_bad_input(fhir: httpx.Client, params: dict[str, str], status: int) -> None:
    response = fhir.get("ValueSet/$validate-code", params=params)
    assert response.status_code == status and _issue(response)["severity"] == "error"


def test_validate_code_in_a_code_system(fhir: httpx.Client) -> None:
    good = fhir.get("CodeSystem/$validate-code", params={"url": ACT_CODE, "code": "AMB"})
    assert _values(good.json())["result"] is True
    bad = fhir.post("CodeSystem/$validate-code", json=_parameters({"name": "url", "valueUri": ACT_CODE},
                                                                  {"name": "code", "valueCode": "NOPE"}))
    assert _values(bad.json())["result"] is False
    assert fhir.get("CodeSystem/$validate-code", params={"code": "AMB"}).status_code == 400


# -- $expand --------------------------------------------------------------------------------------


def test_expand_by_get_with_paging(fhir: httpx.Client) -> None:
    response = fhir.get("ValueSet/$expand", params={"url": GENDER_VS, "count": "2", "offset": "1"})
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "ValueSet" and body["url"] == GENDER_VS
    assert body["expansion"]["total"] == 4 and body["expansion"]["offset"] == 1
    assert [c["code"] for c in body["expansion"]["contains"]] == ["female", "other"]


def test_expand_an_instance_with_a_filter(fhir: httpx.Client) -> None:
    response = fhir.get("ValueSet/v3-ActEncounterCode/$expand", params={"filter": "inpatient"})
    assert response.status_code == 200
    contains = response.json()["expansion"]["contains"]
    assert contains and all("inpatient" in c["display"].lower() for c in contains)


def test_expand_an_inline_value_set_by_post(fhir: httpx.Client) -> None:
    value_set = {"resourceType": "ValueSet", "status": "active",
                 "compose": {"include": [{"system": GENDER, "concept": [{"code": "male"}, {"code": "female"}]}]}}
    response = fhir.post("ValueSet/$expand", json=_parameters({"name": "valueSet", "resource": value_set}))
    assert response.status_code == 200
    assert [(c["code"], c["display"]) for c in response.json()["expansion"]["contains"]] == [
        ("male", "Male"), ("female", "Female")
    ]


def test_expand_refusals(fhir: httpx.Client) -> None:
    snomed = fhir.get("ValueSet/$expand", params={"url": CONDITION_CODE_VS})
    assert snomed.status_code == 422 and _issue(snomed)["code"] == "not-supported"
    assert "SNOMED CT" in _issue(snomed)["diagnostics"]
    assert fhir.get("ValueSet/no-such-id/$expand").status_code == 404
    assert fhir.get("ValueSet/$expand", params={"url": GENDER_VS, "count": "-1"}).status_code == 400
    assert fhir.get("ValueSet/$expand", params={"url": GENDER_VS, "count": "1", "offset": "x"}).status_code == 400


@pytest.mark.parametrize("number", ["\u00b2", "\u0663", "2147483648", str(10**30), "+1", " 1"])
def test_count_and_offset_are_32_bit_whole_numbers(fhir: httpx.Client, number: str) -> None:
    for name in ("count", "offset"):
        response = fhir.get("ValueSet/$expand", params={"url": GENDER_VS, name: number})
        assert response.status_code == 400 and "0 to 2147483647" in _issue(response)["diagnostics"]
    largest = fhir.get("ValueSet/$expand", params={"url": GENDER_VS, "count": "2147483647", "offset": "2147483647"})
    assert largest.status_code == 200 and "contains" not in largest.json()["expansion"]


@pytest.mark.parametrize("coding", [["male"], {"code": "male"}, [{"code": "male"}, "female"]])
def test_a_codeable_concept_whose_codings_are_no_objects_is_refused(fhir: httpx.Client, coding: Any) -> None:
    response = fhir.post("ValueSet/$validate-code", json=_parameters(
        {"name": "url", "valueUri": GENDER_VS}, {"name": "codeableConcept", "valueCodeableConcept": {"coding": coding}}))
    assert response.status_code == 400 and "Coding" in _issue(response)["diagnostics"]


@pytest.mark.parametrize(
    "value_set",
    [
        {"compose": {"include": "all of gender"}},
        {"compose": {"include": ["all of gender"]}},
        {"compose": {"include": [{"system": GENDER, "concept": "male"}]}},
        {"compose": {"include": [{"system": GENDER, "concept": ["male"]}]}},
        {"expansion": {"timestamp": "2024-01-01T00:00:00Z", "contains": ["male"]}},
    ],
)
def test_a_malformed_inline_value_set_is_said_to_be_so(fhir: httpx.Client, value_set: dict[str, Any]) -> None:
    inline = {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active", **value_set}}
    expanded = fhir.post("ValueSet/$expand", json=_parameters(inline))
    assert expanded.status_code == 422 and "malformed" in _issue(expanded)["diagnostics"]
    checked = fhir.post("ValueSet/$validate-code", json=_parameters(
        inline, {"name": "system", "valueUri": GENDER}, {"name": "code", "valueCode": "male"}))
    assert checked.status_code == 200 and "malformed" in _values(checked.json())["message"]


@pytest.mark.parametrize("part", ["include", "exclude"])
def test_a_regex_filter_in_a_value_set_sent_with_the_request_is_not_evaluated(fhir: httpx.Client, part: str) -> None:
    """Python's regexes cannot be stopped: '(a|aa)+$' on a long display could hold a worker for ever."""
    regex = {"system": ACT_CODE, "filter": [{"property": "code", "op": "regex", "value": "(A|AA)+M"}]}
    compose = {"include": [regex]} if part == "include" else {"include": [{"system": ACT_CODE}], "exclude": [regex]}
    inline = {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active", "compose": compose}}
    for operation, more in (("$expand", []), ("$validate-code", [{"name": "system", "valueUri": ACT_CODE},
                                                                 {"name": "code", "valueCode": "AMB"}])):
        response = fhir.post(f"ValueSet/{operation}", json=_parameters(inline, *more))
        assert response.status_code == 422 and _issue(response)["code"] == "not-supported", response.text
        assert "regex" in _issue(response)["diagnostics"]


def test_operations_answer_in_xml_too(fhir: httpx.Client) -> None:
    response = fhir.get("ValueSet/$expand", params={"url": GENDER_VS, "count": "1", "_format": "xml"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+xml")
    assert response.text.startswith('<ValueSet xmlns="http://hl7.org/fhir">')
    assert '<code value="male"/>' in response.text
