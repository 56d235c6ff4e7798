"""Base validation of the JSON shape of a resource: elements, arrays, objects, nulls, '_' objects, cardinality."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_issue, assert_valid, errors

from samen.fhir.validation import Validator

EXTENSION = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Jansen", "given": ["Anna"]}], **elements}


def test_a_plain_patient_is_valid(validator: Validator) -> None:
    assert_valid(validator.validate(patient(birthDate="1950-04-01", gender="female", active=True)))


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"nickname": "Ans"}, "Patient.nickname"),
        ({"deceasedString": "yes"}, "Patient.deceasedString"),  # a choice type Patient.deceased[x] does not have
        ({"name": [{"family": "Jansen", "surname": "J"}]}, "Patient.name[0].surname"),
        ({"_name": [{"id": "a"}]}, "Patient._name"),  # HumanName is not a primitive
    ],
)
def test_unknown_elements_are_refused(validator: Validator, elements: dict[str, Any], expression: str) -> None:
    assert_issue(validator.validate(patient(**elements)), "error", "structure", expression)


def test_the_wrong_choice_suffix_names_the_allowed_ones(validator: Validator) -> None:
    issue = assert_issue(validator.validate(patient(deceasedString="yes")), "error", "structure", "Patient.deceasedString")
    assert "deceasedBoolean, deceasedDateTime" in issue.diagnostics


def test_a_choice_type_of_the_element_is_valid(validator: Validator) -> None:
    assert_valid(validator.validate(patient(deceasedDateTime="2020-01-01", multipleBirthInteger=2)))


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"active": "true"}, "Patient.active"),
        ({"birthDate": 19500401}, "Patient.birthDate"),
        ({"name": ["Jansen"]}, "Patient.name[0]"),
        ({"multipleBirthInteger": "2"}, "Patient.multipleBirthInteger"),
        ({"maritalStatus": "M"}, "Patient.maritalStatus"),
    ],
)
def test_wrong_json_types_are_refused(validator: Validator, elements: dict[str, Any], expression: str) -> None:
    assert_issue(validator.validate(patient(**elements)), "error", "structure", expression)


def test_an_array_where_one_value_belongs_is_refused(validator: Validator) -> None:
    assert_issue(validator.validate(patient(birthDate=["1950-04-01"])), "error", "structure", "Patient.birthDate", "single value")


def test_a_single_value_where_an_array_belongs_is_refused(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Patient", "name": {"family": "Jansen"}})
    assert_issue(issues, "error", "structure", "Patient.name", "JSON array")


@pytest.mark.parametrize(
    ("elements", "expression", "code"),
    [
        ({"name": []}, "Patient.name", "structure"),
        ({"name": [{}]}, "Patient.name[0]", "structure"),
        ({"birthDate": ""}, "Patient.birthDate", "value"),
        ({"name": [{"family": "Jansen", "given": [""]}]}, "Patient.name[0].given[0]", "value"),
        ({"maritalStatus": {"id": "m1"}}, "Patient.maritalStatus", "invariant"),  # ele-1: an id alone is no content
    ],
)
def test_empty_values_are_refused(validator: Validator, elements: dict[str, Any], expression: str, code: str) -> None:
    assert_issue(validator.validate(patient(**elements)), "error", code, expression)


def test_nulls_are_refused_outside_aligned_primitive_arrays(validator: Validator) -> None:
    assert_issue(validator.validate(patient(birthDate=None)), "error", "structure", "Patient.birthDate")
    unaligned = patient(name=[{"family": "Jansen", "given": ["Anna", None]}])
    assert_issue(validator.validate(unaligned), "error", "structure", "Patient.name[0].given[1]")


@pytest.mark.parametrize(
    ("name", "expression"),
    [
        ({"family": "Jansen", "_family": None}, "Patient.name[0]._family"),
        ({"family": None, "_family": {"extension": [EXTENSION]}}, "Patient.name[0].family"),
        ({"given": ["Anna"], "_given": None}, "Patient.name[0]._given"),
        ({"period": None, "family": "Jansen"}, "Patient.name[0].period"),
    ],
)
def test_a_null_beside_its_pair_is_refused(validator: Validator, name: dict[str, Any], expression: str) -> None:
    """A primitive without a value leaves its property out; an '_' property without content too."""
    assert_issue(validator.validate(patient(name=[name])), "error", "structure", expression, "null")


def test_a_null_aligned_with_an_extension_is_valid(validator: Validator) -> None:
    aligned = patient(name=[{"family": "Jansen", "given": ["Anna", None], "_given": [None, {"extension": [EXTENSION]}]}])
    assert_valid(validator.validate(aligned))


def test_primitive_extension_objects(validator: Validator) -> None:
    assert_valid(validator.validate(patient(_birthDate={"extension": [EXTENSION]})))
    assert_valid(validator.validate(patient(birthDate="1950", _birthDate={"id": "b1", "extension": [EXTENSION]})))
    assert_issue(validator.validate(patient(birthDate="1950", _birthDate="x")), "error", "structure", "Patient.birthDate")
    assert_issue(validator.validate(patient(birthDate="1950", _birthDate={"colour": "red"})), "error", "structure",
                 "Patient.birthDate.colour")
    assert_issue(validator.validate(patient(_birthDate={"id": "b1"})), "error", "invariant", "Patient.birthDate")
    assert_issue(validator.validate(patient(_birthDate={"value": "1950"})), "error", "structure", "Patient.birthDate.value")


def test_primitive_extension_arrays_must_align(validator: Validator) -> None:
    misaligned = patient(name=[{"given": ["Anna", "Maria"], "_given": [{"extension": [EXTENSION]}]}])
    assert_issue(validator.validate(misaligned), "error", "structure", "Patient.name[0].given", "as many entries")


def test_a_missing_required_element_is_reported_on_its_parent(validator: Validator) -> None:
    issues = validator.validate({"resourceType": "Observation", "code": {"text": "weight"}})
    issue = assert_issue(issues, "error", "required", "Observation")
    assert issue.diagnostics == "Observation.status: minimum required = 1, but only found 0"
    nested = validator.validate({"resourceType": "Patient", "link": [{"type": "seealso"}]})
    assert_issue(nested, "error", "required", "Patient.link[0]", "Patient.link.other: minimum required = 1")


def test_a_required_primitive_with_only_an_extension_is_present(validator: Validator) -> None:
    observation = {"resourceType": "Observation", "_status": {"extension": [EXTENSION]}, "code": {"text": "weight"}}
    assert not [i for i in errors(validator.validate(observation)) if i.code == "required"]


def test_backbone_elements_and_content_references_are_walked(validator: Validator) -> None:
    questionnaire = {
        "resourceType": "Questionnaire", "status": "draft",
        "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "colour": "red"}]}],
    }
    assert_issue(validator.validate(questionnaire), "error", "structure", "Questionnaire.item[0].item[0].colour")


def test_no_resource_type(validator: Validator) -> None:
    assert_issue(validator.validate({"id": "x"}), "error", "structure", "Resource")
    assert_issue(validator.validate({"resourceType": "Patients"}), "error", "structure", "Patients")


@pytest.mark.parametrize("resource_type", [None, 5, {"name": "Patient"}, ["Patient"]])
def test_a_resource_type_that_is_no_string_is_an_issue(validator: Validator, resource_type: Any) -> None:
    assert_issue(validator.validate({"resourceType": resource_type}), "error", "structure", "Resource", "no resourceType")
