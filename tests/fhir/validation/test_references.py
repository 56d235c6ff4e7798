"""References, contained resources and resources inside Bundles and Parameters."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_issue, assert_valid

from samen.fhir.validation import Validator


def observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, **elements}


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/p1",
        "Patient/p1/_history/2",
        "https://example.org/fhir/Patient/p1",
        "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f",
        "urn:oid:2.16.840.1.113883.2.4.6.3",
        "Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999999990",
    ],
)
def test_valid_reference_formats(validator: Validator, reference: str) -> None:
    assert_valid(validator.validate(observation(subject={"reference": reference})))


@pytest.mark.parametrize("reference", ["Patient p1", "Patient/", "p1", "urn:uuid:6b1d", "urn:oid:2.16.x", "#a b"])
def test_invalid_reference_formats(validator: Validator, reference: str) -> None:
    issues = validator.validate(observation(subject={"reference": reference}))
    assert_issue(issues, "error", "value", "Observation.subject.reference", "Invalid reference")


def test_a_reference_to_an_unknown_resource_type(validator: Validator) -> None:
    issues = validator.validate(observation(subject={"reference": "Patiënt/p1"}))
    assert_issue(issues, "error", "value", "Observation.subject.reference")
    issues = validator.validate(observation(subject={"reference": "Persoon/p1"}))
    assert_issue(issues, "error", "value", "Observation.subject.reference", "unknown resource type 'Persoon'")


def test_a_reference_to_a_type_the_element_does_not_allow(validator: Validator) -> None:
    issues = validator.validate(observation(subject={"reference": "Medication/m1"}))
    issue = assert_issue(issues, "error", "structure", "Observation.subject.reference")
    assert "Device | Group | Location | Patient" in issue.diagnostics
    assert_valid(validator.validate(observation(subject={"reference": "Group/g1"})))


def test_a_contained_target(validator: Validator) -> None:
    contained = [{"resourceType": "Patient", "id": "p1", "birthDate": "1950"}]
    assert_valid(validator.validate(observation(contained=contained, subject={"reference": "#p1"})))
    # ref-1: a local reference must resolve to a contained resource
    issues = validator.validate(observation(contained=contained, subject={"reference": "#p1"}, focus=[{"reference": "#p2"}]))
    assert_issue(issues, "error", "invariant", "Observation.focus[0]", "ref-1")
    # the contained resource's type must be one the element allows
    medication = [{"resourceType": "Medication", "id": "m1"}]
    issues = validator.validate(observation(contained=medication, subject={"reference": "#m1"}))
    assert_issue(issues, "error", "structure", "Observation.subject.reference", "points to a Medication")


def test_contained_resources_are_validated_as_resources(validator: Validator) -> None:
    contained = [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-02-30"}]
    issues = validator.validate(observation(contained=contained, subject={"reference": "#p1"}))
    assert_issue(issues, "error", "value", "Observation.contained[0].birthDate")
    issues = validator.validate(observation(contained=[{"id": "p1"}], subject={"reference": "#p1"}))
    assert_issue(issues, "error", "structure", "Observation.contained[0]", "no resourceType")


@pytest.mark.parametrize(
    ("contained", "key"),
    [
        ({"resourceType": "Patient", "id": "p1", "contained": [{"resourceType": "Patient", "id": "p2"}]}, "dom-2"),
        ({"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}}, "dom-4"),
        ({"resourceType": "Patient", "id": "p1", "meta": {"security": [{"code": "R"}]}}, "dom-5"),
    ],
)
def test_rules_for_contained_resources(validator: Validator, contained: dict[str, Any], key: str) -> None:
    issues = validator.validate(observation(contained=[contained], subject={"reference": "#p1"}))
    assert_issue(issues, "error", "invariant", "Observation", key)


def test_a_contained_resource_must_be_referenced(validator: Validator) -> None:
    issues = validator.validate(observation(contained=[{"resourceType": "Patient", "id": "p1"}]))
    assert_issue(issues, "error", "invariant", "Observation", "dom-3")
    referenced_back = {"resourceType": "Provenance", "id": "v1", "recorded": "2024-01-01T10:00:00Z",
                       "agent": [{"who": {"display": "x"}}], "target": [{"reference": "#"}]}
    assert_valid(validator.validate(observation(contained=[referenced_back])))


def test_bundle_entries_are_validated_as_resources(validator: Validator) -> None:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f", "resource": {"resourceType": "Patient", "birthDate": "1950"}},
            {"resource": observation(subject={"reference": "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f"})},
        ],
    }
    assert_valid(validator.validate(bundle))
    bundle["entry"][0]["resource"]["birthDate"] = "1950-02-30"
    bundle["entry"][1]["resource"]["valueCodeableConcept"] = {"text": "x"}
    bundle["entry"][1]["resource"]["dataAbsentReason"] = {"text": "x"}
    issues = validator.validate(bundle)
    assert_issue(issues, "error", "value", "Bundle.entry[0].resource.birthDate")
    assert_issue(issues, "error", "invariant", "Bundle.entry[1].resource", "obs-6")


def test_resource_typed_elements_need_a_known_resource_type(validator: Validator) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Patiënt"}}, {"resource": {"birthDate": "1950"}}]}
    issues = validator.validate(bundle)
    assert_issue(issues, "error", "structure", "Bundle.entry[0].resource", "Unknown resource type")
    assert_issue(issues, "error", "structure", "Bundle.entry[1].resource", "no resourceType")


def test_parameters_resources_are_validated(validator: Validator) -> None:
    parameters = {"resourceType": "Parameters",
                  "parameter": [{"name": "p", "resource": {"resourceType": "Patient", "gender": "vrouw"}}]}
    assert_issue(validator.validate(parameters), "error", "code-invalid", "Parameters.parameter[0].resource.gender")


def test_resources_in_bundles_and_parameters_are_root_resources_for_their_contained(validator: Validator) -> None:
    """%rootResource of an entry's or a parameter's resource is that resource, not the Bundle: its
    `#id` references find its contained resources (ref-1), also from a contained sibling."""
    patient = {"resourceType": "Patient",
               "contained": [{"resourceType": "Organization", "id": "o1", "name": "Praktijk"},
                             {"resourceType": "Organization", "id": "o2", "name": "Afdeling",
                              "partOf": {"reference": "#o1"}}],
               "managingOrganization": {"reference": "#o2"}}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f", "resource": patient}]}
    assert_valid(validator.validate(bundle))
    assert_valid(validator.validate({"resourceType": "Parameters", "parameter": [{"name": "p", "resource": patient}]}))
    patient["managingOrganization"]["reference"] = "#o3"
    assert_issue(validator.validate(bundle), "error", "invariant", "Bundle.entry[0].resource.managingOrganization",
                 "ref-1")


def test_a_contained_sibling_of_the_wrong_type_is_refused_inside_a_bundle(validator: Validator) -> None:
    patient = {"resourceType": "Patient",
               "contained": [{"resourceType": "Patient", "id": "p1"},
                             {"resourceType": "Organization", "id": "o2", "name": "Afdeling",
                              "partOf": {"reference": "#p1"}}],
               "managingOrganization": {"reference": "#o2"},
               "link": [{"other": {"reference": "#p1"}, "type": "seealso"}]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    assert_issue(validator.validate(bundle), "error", "structure",
                 "Bundle.entry[0].resource.contained[1].partOf.reference", "Organization")


@pytest.mark.parametrize("contained", [5, True, "o1"])
def test_contained_that_is_no_array_is_an_issue_not_a_crash(validator: Validator, contained: Any) -> None:
    patient = {"resourceType": "Patient", "contained": contained, "managingOrganization": {"reference": "#o1"}}
    assert_issue(validator.validate(patient), "error", "structure", "Patient.contained", "JSON array")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": contained}
    assert_issue(validator.validate(bundle), "error", "structure", "Bundle.entry", "JSON array")


@pytest.mark.parametrize("resource_type", [[5], {}, 5])
def test_a_resource_type_inside_that_is_no_string_is_an_issue_not_a_crash(validator: Validator, resource_type: Any) -> None:
    patient = {"resourceType": "Patient", "contained": [{"resourceType": resource_type, "id": "o1"}],
               "managingOrganization": {"reference": "#o1"}}
    assert_issue(validator.validate(patient), "error", "structure", "Patient.contained[0]", "no resourceType")
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": resource_type}}, {"resource": patient}]}
    assert_issue(validator.validate(bundle), "error", "structure", "Bundle.entry[0].resource", "no resourceType")
