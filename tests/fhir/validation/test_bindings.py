"""Codes against bound value sets: required is an error, extensible a warning, preferred and example nothing."""

from __future__ import annotations

from typing import Any

from conftest import assert_issue, assert_valid, found

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.validation import CodeCheck, Validator


class CannotDecide:
    """A terminology that knows no code system: every answer is undecided."""

    def validate_code(self, value_set: str, system: str | None, code: str, display: str | None = None) -> CodeCheck:
        return CodeCheck(None, f"the code system {system} is not available")


def condition(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            **elements}


def test_a_code_in_a_required_value_set(validator: Validator) -> None:
    assert_valid(validator.validate({"resourceType": "Patient", "gender": "female"}))


def test_a_code_outside_a_required_value_set_is_an_error(validator: Validator) -> None:
    issue = assert_issue(validator.validate({"resourceType": "Patient", "gender": "vrouw"}), "error", "code-invalid", "Patient.gender")
    assert "http://hl7.org/fhir/ValueSet/administrative-gender" in issue.diagnostics


def test_a_coding_outside_a_required_value_set_is_an_error(validator: Validator) -> None:
    wrong = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "sleeping"}]}
    assert_issue(validator.validate(condition(clinicalStatus=wrong)), "error", "code-invalid", "Condition.clinicalStatus")


def test_a_display_that_does_not_match_is_a_warning(validator: Validator) -> None:
    status = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active", "display": "Slapend"}]}
    issue = assert_issue(validator.validate(condition(clinicalStatus=status)), "warning", "code-invalid", "Condition.clinicalStatus")
    assert "Slapend" in issue.diagnostics
    status["coding"][0]["display"] = "Active"
    assert not found(validator.validate(condition(clinicalStatus=status)), "warning", "code-invalid", "Condition.clinicalStatus")


def test_a_code_outside_an_extensible_value_set_is_a_warning(validator: Validator) -> None:
    category = [{"coding": [{"system": "http://snomed.info/sct", "code": "439401001"}]}]
    issues = validator.validate(condition(category=category))
    assert_issue(issues, "warning", "code-invalid", "Condition.category[0]")
    assert not found(issues, "error", "code-invalid", "Condition.category[0]")
    listed = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}]
    assert not found(validator.validate(condition(category=listed)), "warning", "code-invalid", "Condition.category[0]")


def test_preferred_and_example_bindings_are_not_checked(validator: Validator) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://example.org", "code": "x"}]},
                   "language": "xx-YY"}
    issues = validator.validate(observation)
    assert not [i for i in issues if i.code == "code-invalid"]


def test_an_undecided_code_is_information_never_an_error(model: Model, conformance: Conformance) -> None:
    issues = Validator(model, conformance, CannotDecide()).validate({"resourceType": "Patient", "gender": "vrouw"})
    issue = assert_issue(issues, "information", "informational", "Patient.gender")
    assert "is not available" in issue.diagnostics


def test_without_terminology_bindings_are_not_checked(model: Model, conformance: Conformance) -> None:
    assert_valid(Validator(model, conformance).validate({"resourceType": "Patient", "gender": "vrouw"}))
