"""The conformance registry: core resources by canonical URL, lazily read; package resources on top."""

from __future__ import annotations

import pytest

from samen.fhir.conformance import Conformance, ConformanceError


def test_core_structure_definitions_have_snapshots(conformance: Conformance) -> None:
    patient = conformance.type_definition("Patient")
    assert patient is not None and patient["url"] == "http://hl7.org/fhir/StructureDefinition/Patient"
    assert patient["snapshot"]["element"][0]["path"] == "Patient"
    assert conformance.type_definition("HumanName")["kind"] == "complex-type"
    assert conformance.structure_definition("http://hl7.org/fhir/StructureDefinition/vitalsigns")["type"] == "Observation"


def test_core_terminology_is_found_by_type(conformance: Conformance) -> None:
    gender = "http://hl7.org/fhir/administrative-gender"
    assert conformance.code_system(gender)["concept"][0]["code"] == "male"
    assert conformance.value_set(gender) is None  # a CodeSystem URL is not a ValueSet
    assert conformance.value_set("http://hl7.org/fhir/ValueSet/administrative-gender") is not None
    assert conformance.code_system("http://terminology.hl7.org/CodeSystem/v3-NullFlavor") is not None
    assert conformance.get("http://example.org/unknown") is None


def test_package_resources_take_precedence_and_honour_versions() -> None:
    registry = Conformance()
    url = "http://hl7.org/fhir/ValueSet/administrative-gender"
    local = {"resourceType": "ValueSet", "url": url, "version": "9.9", "status": "active"}
    registry.add(local, "pkg/ValueSet-x.json")
    assert registry.value_set(url) is local
    assert registry.value_set(url + "|9.9") is local
    assert registry.source_of(url) == "pkg/ValueSet-x.json"
    assert list(registry.local_resources("ValueSet")) == [local]


def test_a_resource_without_url_names_its_file() -> None:
    with pytest.raises(ConformanceError, match="broken.json"):
        Conformance().add({"resourceType": "ValueSet"}, "broken.json")


def test_core_resources_whose_url_carries_a_version_are_found(conformance: Conformance) -> None:
    assert conformance.code_system("http://terminology.hl7.org/CodeSystem/v2-0391|2.6") is not None
