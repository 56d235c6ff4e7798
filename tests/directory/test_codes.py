"""The administration directory's code lists and the NlGf profile rules of codes.check()."""

from __future__ import annotations

from typing import Any

import pytest

from samen.directory import codes
from samen.sample import URA

OWN_URA = "12345678"
OWNER = {"reference": "Organization/own", "identifier": {"system": URA, "value": OWN_URA}}


def assigned(res_type: str) -> dict[str, Any]:
    return codes.custodian_identifier(f"https://node.test/fhir/{res_type}", "id-1", OWN_URA)


def valid() -> dict[str, dict[str, Any]]:
    """One resource of each directory type that meets every rule."""
    return {
        "Organization": {"resourceType": "Organization", "name": "Ziekenhuis",
                         "identifier": [{"system": URA, "value": OWN_URA}, assigned("Organization")],
                         "type": [{"coding": [{"system": codes.ORGANISATION_TYPE, "code": "V4"}]}]},
        "Location": {"resourceType": "Location", "name": "Hoofdgebouw", "status": "active",
                     "identifier": [assigned("Location")], "managingOrganization": OWNER,
                     "type": [{"coding": [{"system": codes.LOCATION_TYPE, "code": "HOSP"}]}]},
        "HealthcareService": {"resourceType": "HealthcareService", "name": "Cardiologie",
                              "identifier": [assigned("HealthcareService")], "providedBy": OWNER,
                              "type": [{"coding": [{"system": codes.SERVICE_TYPE, "code": "msz.cardiologie"}]}],
                              "specialty": [{"coding": [{"system": codes.UZI_ROLE, "code": "01.010"}]}]},
        "Endpoint": {"resourceType": "Endpoint", "status": "active", "address": "https://node.test/fhir",
                     "connectionType": {"system": codes.CONNECTION_TYPE, "code": "hl7-fhir-rest"},
                     "payloadType": [{"coding": [{"system": codes.PAYLOAD_TYPE, "code": "CareServiceEntities"}]}],
                     "managingOrganization": OWNER},
        "PractitionerRole": {"resourceType": "PractitionerRole", "identifier": [assigned("PractitionerRole")],
                             "practitioner": {"reference": "Practitioner/p"}, "organization": OWNER,
                             "code": [{"coding": [{"system": codes.UZI_ROLE, "code": "01.015"}]}]},
        "Practitioner": {"resourceType": "Practitioner", "identifier": [assigned("Practitioner")],
                         "name": [{"family": "Arts"}]},
    }


@pytest.mark.parametrize("res_type", codes.DIRECTORY_TYPES)
def test_a_resource_meeting_the_profile_has_no_problems(res_type: str) -> None:
    assert codes.check(valid()[res_type]) == []


@pytest.mark.parametrize(("res_type", "element"), [
    ("Organization", "name"), ("Organization", "type"), ("Location", "name"), ("Location", "status"),
    ("Location", "type"), ("Location", "managingOrganization"), ("HealthcareService", "providedBy"),
    ("HealthcareService", "type"), ("Endpoint", "connectionType"), ("Endpoint", "payloadType"),
    ("Endpoint", "address"), ("Endpoint", "managingOrganization"), ("PractitionerRole", "practitioner"),
    ("PractitionerRole", "organization"), ("PractitionerRole", "code"), ("Practitioner", "name"),
])
def test_each_required_element_is_named_when_missing(res_type: str, element: str) -> None:
    resource = valid()[res_type]
    del resource[element]
    assert codes.check(resource) == [f"{element}: {element} is required"]


def test_codes_outside_the_value_sets_break_the_bindings() -> None:
    endpoint = valid()["Endpoint"]
    endpoint["payloadType"] = [{"coding": [{"system": codes.PAYLOAD_TYPE, "code": "NoSuchCategory"}]}]
    endpoint["connectionType"] = {"system": "http://example.org/connection", "code": "hl7-fhir-rest"}
    assert codes.check(endpoint) == [
        "connectionType: needs a coding from nl-gf-connection-types-vs",
        "payloadType[0]: needs a coding from nl-gf-payload-type-vs",
    ]
    service = valid()["HealthcareService"]
    service["specialty"] = [{"coding": [{"system": codes.UZI_ROLE, "code": "99.999"}]}]
    assert codes.check(service, "nl") == [
        "specialty[0]: Specialisme heeft geen code uit de waardelijst nl-gf-healthcare-specialty-vs"]


def test_an_organisation_needs_a_ura_or_kvk_or_a_parent() -> None:
    organisation = valid()["Organization"]
    organisation["identifier"] = [assigned("Organization")]
    assert codes.check(organisation) == [
        "identifier: needs a URA or KVK identifier, or partOf (ura-identifier-or-partof)"]
    organisation["partOf"] = OWNER
    assert codes.check(organisation) == []
    organisation["endpoint"] = [{"reference": "Endpoint/e"}]
    assert codes.check(organisation) == [
        "endpoint: only an organisation with a URA identifier may refer to an endpoint"]


def test_the_custodian_assigned_identifier_must_name_its_assigner() -> None:
    location = valid()["Location"]
    location["identifier"][0]["assigner"]["identifier"]["system"] = "http://example.org/other"
    assert codes.check(location) == [
        "identifier: needs a custodian-assigned identifier (official, assigner URA or KVK, custodian)"]


def test_modifier_extensions_are_refused_for_mcsd() -> None:
    practitioner = valid()["Practitioner"]
    practitioner["modifierExtension"] = [{"url": "http://example.org/x", "valueBoolean": True}]
    assert codes.check(practitioner) == ["modifierExtension: modifierExtension is not allowed"]


def test_other_resource_types_are_not_judged() -> None:
    assert codes.check({"resourceType": "Patient"}) == []


def test_code_lists_name_their_sources_and_speak_both_languages() -> None:
    for code_list in codes.code_lists().values():
        assert code_list.source and code_list.concepts, code_list.key
        assert all(c.code and c.display_nl and c.display_en for c in code_list.concepts), code_list.key
    assert {"V4", "Z3", "J8"} <= {c.code for c in codes.organisation_types()}
    assert ("01.015", "Huisarts", "General practitioner") in codes.specialties()
    assert codes.sbi_for_organisation_type("J8") == ("47730",)
    assert codes.profile_url("Endpoint") == \
        "http://minvws.github.io/generiekefuncties-docs/StructureDefinition/nl-gf-endpoint"
