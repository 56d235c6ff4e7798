"""Profile validation: core profiles with snapshots (vital signs), and test profiles whose snapshots the
node generates from differentials (profiles_under_test.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import assert_issue, assert_valid, found
from profiles_under_test import ADDRESS, BSN, CLOTHING, DEFINITIONS, DO_NOT_RESUSCITATE, PATIENT, SHOE_SIZE, STRICT_ORGANIZATION
from structlog.testing import capture_logs

from samen.fhir.conformance import Conformance
from samen.fhir.conformance.snapshot import generate_snapshots
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator

BP = "http://hl7.org/fhir/StructureDefinition/bp"
VITALSIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def registry() -> Conformance:
    conformance = Conformance()
    for definition in copy.deepcopy(DEFINITIONS):
        conformance.add(definition, "profiles_under_test.py")
    generate_snapshots(conformance)
    return conformance


@pytest.fixture(scope="module")
def profiled(model: Model, registry: Conformance) -> Validator:
    return Validator(model, registry, Terminology(registry))


# -- core vital signs profiles ------------------------------------------------------------------


def blood_pressure() -> dict[str, Any]:
    def component(code: str, value: float) -> dict[str, Any]:
        return {"code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}

    return {
        "resourceType": "Observation", "meta": {"profile": [BP]}, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01T10:00:00Z",
        "component": [component("8480-6", 120), component("8462-4", 80)],
    }


def test_a_blood_pressure_conforms(validator: Validator) -> None:
    assert_valid(validator.validate(blood_pressure()))


def test_a_missing_required_slice(validator: Validator) -> None:
    observation = blood_pressure()
    del observation["component"][0]
    issue = assert_issue(validator.validate(observation), "error", "required", "Observation", "SystolicBP")
    assert issue.diagnostics.startswith("Observation.component:SystolicBP: minimum required = 1, but only found 0")


def test_a_changed_fixed_value(validator: Validator) -> None:
    observation = blood_pressure()
    observation["component"][1]["valueQuantity"]["code"] = "mmHg"
    issue = assert_issue(validator.validate(observation), "error", "value", "Observation.component[1].valueQuantity.code")
    assert '"mm[Hg]"' in issue.diagnostics


def test_a_missing_element_the_profile_requires(validator: Validator) -> None:
    observation = blood_pressure()
    del observation["subject"]
    assert_issue(validator.validate(observation), "error", "required", "Observation", "Observation.subject: minimum required = 1")


def test_a_type_the_profile_does_not_allow(validator: Validator) -> None:
    observation = blood_pressure()
    del observation["effectiveDateTime"]
    observation["effectiveInstant"] = "2024-01-01T10:00:00Z"
    issue = assert_issue(validator.validate(observation), "error", "structure", "Observation.effectiveInstant")
    assert "dateTime, Period" in issue.diagnostics


def test_a_profile_invariant(validator: Validator) -> None:
    observation = {**blood_pressure(), "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/bodyweight"]}}
    del observation["component"]
    assert_issue(validator.validate(observation), "error", "invariant", "Observation", "vs-2")


def test_profiles_come_from_meta_the_node_and_the_request(model: Model, conformance: Conformance) -> None:
    observation = blood_pressure()
    del observation["meta"]
    del observation["subject"]
    assert_valid(Validator(model, conformance).validate(observation))
    assert_issue(Validator(model, conformance).validate(observation, [VITALSIGNS]), "error", "required", "Observation")
    required = Validator(model, conformance, required_profiles={"Observation": [BP]})
    assert_issue(required.validate(observation), "error", "required", "Observation", "(profile " + BP)
    assert_valid(required.validate({"resourceType": "Patient"}))


def test_claiming_the_core_definition_of_the_own_type_adds_nothing_to_the_base(validator: Validator) -> None:
    core = "http://hl7.org/fhir/StructureDefinition/Patient"
    plain = validator.validate({"resourceType": "Patient", "gender": "mannetje"})
    claimed = validator.validate({"resourceType": "Patient", "gender": "mannetje", "meta": {"profile": [core]}})
    assert claimed == plain and validator.validate({"resourceType": "Patient", "gender": "mannetje"}, [core]) == plain


def test_resources_in_a_bundle_are_checked_against_the_profiles_they_claim(validator: Validator) -> None:
    observation = blood_pressure()
    del observation["subject"]
    unknown = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/unknown"]}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": observation}, {"resource": unknown}]}
    issues = validator.validate(bundle)
    assert_issue(issues, "error", "required", "Bundle.entry[0].resource", "Observation.subject: minimum required = 1")
    assert_issue(issues, "warning", "not-supported", "Bundle.entry[1].resource.meta.profile[0]")


def test_a_malformed_resource_is_not_checked_against_profiles(validator: Validator) -> None:
    observation = blood_pressure()
    observation["code"] = {"coding": "85354-9"}
    observation["component"][0]["code"]["coding"] = [None]
    issues = validator.validate(observation, [VITALSIGNS])
    assert_issue(issues, "error", "structure", "Observation.code.coding", "JSON array")
    assert_issue(issues, "information", "informational", "Observation", "not checked against the profiles in its meta.profile")
    assert_issue(issues, "information", "informational", "Observation", f"not checked against {VITALSIGNS}")
    assert not [i for i in issues if "(profile" in i.diagnostics]
    del observation["meta"]
    assert not [i for i in validator.validate(observation) if i.severity == "information"]


def test_an_unknown_profile(validator: Validator) -> None:
    observation = {**blood_pressure(), "meta": {"profile": ["http://example.org/unknown"]}}
    assert_issue(validator.validate(observation), "warning", "not-supported", "Observation.meta.profile[0]")
    assert_issue(validator.validate(blood_pressure(), ["http://example.org/unknown"]), "error", "not-supported", "Observation")


def test_a_profile_for_another_resource_type(validator: Validator) -> None:
    assert_issue(validator.validate({"resourceType": "Patient"}, [BP]), "error", "structure", "Patient", "is for a Observation")


# -- test profiles generated from differentials -------------------------------------------------


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "meta": {"profile": [PATIENT]},
        "identifier": [{"system": "urn:oid:1.2.3", "value": "x"}, {"system": BSN, "value": "999999990"}],
        "name": [{"family": "Jansen"}], "birthDate": "1950-04-01", "gender": "female",
        "telecom": [{"system": "phone", "value": "0612345678"}, {"system": "email", "value": "a@example.org"}],
        "address": [{"city": "Utrecht", "postalCode": "3511 AB", "country": "NL"}],
        "multipleBirthInteger": 1,
        "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]},
        "contact": [{"organization": {"display": "x"}}, {"name": {"family": "Bakker"}}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "nl"}]}},
                          {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}},
                          {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "de"}]}}],
        "extension": [{"url": SHOE_SIZE, "valueInteger": 42},
                      {"url": CLOTHING, "extension": [{"url": "size", "valueString": "M"}, {"url": "day", "valueCode": "mon"}]}],
    }


def test_the_test_patient_conforms(profiled: Validator) -> None:
    assert_valid(profiled.validate(patient()))


def test_a_value_slice_by_a_fixed_value(profiled: Validator) -> None:
    resource = patient()
    resource["identifier"][1]["system"] = "http://example.org/bsn"
    assert_issue(profiled.validate(resource), "error", "required", "Patient", "Patient.identifier:bsn: minimum required = 1")
    resource["identifier"].append({"system": BSN, "value": "1"})
    resource["identifier"].append({"system": BSN, "value": "2"})
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.identifier[3]", "Patient.identifier:bsn: max allowed = 1")


def test_a_closed_slicing(profiled: Validator) -> None:
    resource = patient()
    resource["telecom"].append({"system": "fax", "value": "0301234567"})
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.telecom[2]", "slicing is closed")


def test_an_element_inside_a_slice(profiled: Validator) -> None:
    resource = patient()
    resource["identifier"][1]["value"] = "9999999901"
    assert_issue(profiled.validate(resource), "error", "value", "Patient.identifier[1].value", "longer than 9")


def test_cardinality_of_the_profile(profiled: Validator) -> None:
    resource = patient()
    resource["name"].append({"family": "Bakker"})
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.name[1]", "Patient.name: max allowed = 1")
    resource = patient()
    resource["name"] = [{"given": ["Anna"]}]
    assert_issue(profiled.validate(resource), "error", "required", "Patient.name[0]", "Patient.name.family: minimum required = 1")


def test_a_pattern(profiled: Validator) -> None:
    resource = patient()
    resource["maritalStatus"] = {"coding": [{"system": "http://example.org/status", "code": "M"}]}
    issue = assert_issue(profiled.validate(resource), "error", "value", "Patient.maritalStatus", "must match the pattern")
    assert "v3-MaritalStatus" in issue.diagnostics


def test_a_narrowed_choice_type(profiled: Validator) -> None:
    resource = {**patient(), "deceasedDateTime": "2024-01-01"}
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.deceasedDateTime", "not allowed by the profile")
    assert_valid(profiled.validate({**patient(), "deceasedBoolean": False}))


def test_a_type_slice(profiled: Validator) -> None:
    resource = patient()
    del resource["multipleBirthInteger"]
    resource["multipleBirthBoolean"] = True
    assert_issue(profiled.validate(resource), "error", "required", "Patient", "multipleBirthInteger: minimum required = 1")


def test_a_profile_slice_and_the_profile_on_its_type(profiled: Validator) -> None:
    resource = patient()
    resource["address"][0]["country"] = "BE"
    issues = profiled.validate(resource)
    assert_issue(issues, "error", "required", "Patient", "Patient.address:dutch: minimum required = 1")
    resource = patient()
    resource["address"].append({"city": "Leuven", "country": "BE"})
    assert_valid(profiled.validate(resource))


def test_an_invariant_of_a_type_profile(profiled: Validator) -> None:
    resource = patient()
    resource["contact"][1]["address"] = {"city": "Amsterdam", "postalCode": "1011", "country": "NL"}
    assert_issue(profiled.validate(resource), "error", "invariant", "Patient.contact[1].address", "tst-2")


def test_an_exists_discriminator(profiled: Validator) -> None:
    resource = patient()
    resource["contact"].append({"organization": {"display": "y"}})
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.contact[2]", "Patient.contact:organization: max allowed = 1")
    resource = patient()
    resource["contact"][1] = {"relationship": [{"text": "neighbour"}], "telecom": [{"value": "1"}]}
    assert_issue(profiled.validate(resource), "error", "required", "Patient.contact[1]", "Patient.contact.name: minimum required = 1")


def test_ordered_slices(profiled: Validator) -> None:
    resource = patient()
    resource["communication"][0], resource["communication"][1] = resource["communication"][1], resource["communication"][0]
    assert_issue(profiled.validate(resource), "error", "structure", "Patient", "not in slice order")


def test_open_at_end(profiled: Validator) -> None:
    resource = patient()
    resource["communication"].insert(0, resource["communication"].pop())
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.communication[0]", "openAtEnd")


def test_a_target_profile_of_a_contained_target(profiled: Validator) -> None:
    resource = {**patient(), "contained": [{"resourceType": "Organization", "id": "o1", "alias": ["GP"]}],
                "managingOrganization": {"reference": "#o1"}}
    issues = profiled.validate(resource)
    assert_issue(issues, "error", "required", "Patient.contained[0]", "Organization.name: minimum required = 1")
    resource["contained"][0]["name"] = "Huisartsenpraktijk"
    assert_valid(profiled.validate(resource))


def test_targets_that_refer_to_each_other(profiled: Validator) -> None:
    contained = [{"resourceType": "Organization", "id": "o1", "name": "Ziekenhuis", "partOf": {"reference": "#o2"}},
                 {"resourceType": "Organization", "id": "o2", "alias": ["Holding"], "partOf": {"reference": "#o1"}}]
    resource = {**patient(), "contained": contained, "managingOrganization": {"reference": "#o1"}}
    issues = profiled.validate(resource)
    assert_issue(issues, "error", "required", "Patient.contained[1]", "Organization.name: minimum required = 1")


def test_invariants_beyond_the_compiler(profiled: Validator) -> None:
    organization = {"resourceType": "Organization", "name": "Huisartsenpraktijk", "alias": ["a", "b"]}
    with capture_logs() as logs:
        assert_valid(profiled.validate(organization, [STRICT_ORGANIZATION]))
        issues = profiled.validate({**organization, "alias": ["a", "b", "c"]}, [STRICT_ORGANIZATION])
    assert_issue(issues, "error", "invariant", "Organization", "tst-3")
    assert not [i for i in issues if "tst-4" in i.diagnostics]
    skipped = [log for log in logs if log["event"] == "invariant skipped"]
    assert [log["key"] for log in skipped] == ["tst-4"]


def test_a_warning_invariant_of_the_profile(profiled: Validator) -> None:
    resource = patient()
    del resource["birthDate"]
    assert_issue(profiled.validate(resource), "warning", "invariant", "Patient", "tst-1")


def test_must_support_is_reported_when_asked(model: Model, registry: Conformance) -> None:
    resource = patient()
    del resource["gender"]
    assert not found(Validator(model, registry).validate(resource), "information", "informational", "Patient")
    reporting = Validator(model, registry, report_must_support=True)
    assert_issue(reporting.validate(resource), "information", "informational", "Patient", "Patient.gender is must-support")


# -- extensions -------------------------------------------------------------------------------


def test_an_extension_is_validated_against_its_definition(profiled: Validator) -> None:
    resource = patient()
    resource["extension"][0] = {"url": SHOE_SIZE, "valueString": "42"}
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.extension[0].valueString", "not allowed")
    resource["extension"][0] = {"url": SHOE_SIZE, "extension": [{"url": "eu", "valueInteger": 42}]}
    issues = profiled.validate(resource)
    assert_issue(issues, "error", "required", "Patient.extension[0]", "Extension.value[x]: minimum required = 1")


def test_a_complex_extension(profiled: Validator) -> None:
    resource = patient()
    resource["extension"][1]["extension"] = [{"url": "day", "valueCode": "mon"}]
    assert_issue(profiled.validate(resource), "error", "required", "Patient.extension[1]", "Extension.extension:size: minimum required = 1")
    resource["extension"][1]["extension"] = [{"url": "size", "valueString": "M"}, {"url": "day", "valueCode": "maandag"}]
    assert_issue(profiled.validate(resource), "error", "code-invalid", "Patient.extension[1].extension[1].valueCode")


def test_an_extension_outside_its_context(profiled: Validator) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "extension": [{"url": SHOE_SIZE, "valueInteger": 42}]}
    assert_issue(profiled.validate(observation), "error", "structure", "Observation.extension[0]", "not allowed on Observation")
    name = {"family": "Jansen", "extension": [{"url": CLOTHING, "extension": [{"url": "size", "valueString": "M"}]}]}
    assert_valid(profiled.validate({**patient(), "name": [name]}))


def test_unknown_extensions(profiled: Validator) -> None:
    resource = {**patient(), "modifierExtension": [{"url": "http://example.org/unknown", "valueBoolean": True}]}
    resource["extension"].append({"url": "http://example.org/unknown", "valueBoolean": True})
    issues = profiled.validate(resource)
    assert_issue(issues, "warning", "extension", "Patient.extension[2]", "Unknown extension")
    assert_issue(issues, "error", "extension", "Patient.modifierExtension[0]", "Unknown modifier extension")


def test_modifier_extensions_must_be_used_as_such(profiled: Validator) -> None:
    as_modifier = {**patient(), "modifierExtension": [{"url": DO_NOT_RESUSCITATE, "valueBoolean": True}]}
    assert_valid(profiled.validate(as_modifier))
    resource = patient()
    resource["extension"].append({"url": DO_NOT_RESUSCITATE, "valueBoolean": True})
    assert_issue(profiled.validate(resource), "error", "structure", "Patient.extension[2]", "modifierExtension")
    misused = {**patient(), "modifierExtension": [{"url": SHOE_SIZE, "valueInteger": 42}]}
    assert_issue(profiled.validate(misused), "error", "structure", "Patient.modifierExtension[0]", "not a modifier extension")


def test_a_core_extension(validator: Validator) -> None:
    birth_place = {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {"city": "Utrecht"}}
    assert_valid(validator.validate({"resourceType": "Patient", "extension": [birth_place]}))
    wrong = {"url": birth_place["url"], "valueString": "Utrecht"}
    assert_issue(validator.validate({"resourceType": "Patient", "extension": [wrong]}), "error", "structure",
                 "Patient.extension[0].valueString")
    assert_issue(validator.validate({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                     "extension": [birth_place]}), "error", "structure", "Observation.extension[0]")


def test_address_profile_used_directly(profiled: Validator) -> None:
    resource = patient()
    resource["address"] = [{"city": "Utrecht", "country": "NL", "postalCode": "3511AB"}]
    assert_valid(profiled.validate(resource))
    assert ADDRESS
