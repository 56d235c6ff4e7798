"""Snapshot generation from differentials, on small profiles of the R4 core (one rule per test)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from samen.fhir.conformance import Conformance, ConformanceError
from samen.fhir.conformance.snapshot import SnapshotGenerator, generate_snapshots

BASE = "http://hl7.org/fhir/StructureDefinition/"
EXAMPLE = "http://example.org/fhir/StructureDefinition/"


def profile(name: str, base: str, elements: list[dict[str, Any]], type_code: str = "Patient") -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition", "url": EXAMPLE + name, "name": name, "status": "draft",
        "kind": "resource", "abstract": False, "type": type_code, "baseDefinition": base,
        "derivation": "constraint", "differential": {"element": elements},
    }


def snapshot(*profiles: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The snapshot of the first profile (the others are its bases or type profiles), by element id."""
    registry = Conformance()
    for item in profiles:
        registry.add(item, f"{item['name']}.json")
    generate_snapshots(registry)
    elements = profiles[0]["snapshot"]["element"]
    ids = [element["id"] for element in elements]
    assert len(ids) == len(set(ids)), "element ids must be unique"
    assert all(element["path"] == _path_of(element["id"]) for element in elements)
    return {element["id"]: element for element in elements}


def _path_of(element_id: str) -> str:
    return ".".join(step.partition(":")[0] for step in element_id.split("."))


def ids_under(elements: dict[str, dict[str, Any]], prefix: str) -> list[str]:
    return [element_id for element_id in elements if element_id.startswith(prefix)]


def test_core_vitalsigns_regenerated_from_its_differential_equals_the_official_snapshot(
    conformance: Conformance,
) -> None:
    official = conformance.structure_definition(BASE + "vitalsigns")
    copy = orjson.loads(orjson.dumps(official))
    del copy["snapshot"]
    copy["url"] = EXAMPLE + "vitalsigns-copy"
    registry = Conformance()
    registry.add(copy, "vitalsigns-copy.json")
    generated = SnapshotGenerator(registry).ensure(copy)["snapshot"]["element"]
    expected = official["snapshot"]["element"]
    assert [e["id"] for e in generated] == [e["id"] for e in expected]
    for mine, theirs in zip(generated, expected):
        for key in ("path", "sliceName", "min", "max", "type", "slicing", "patternCodeableConcept", "fixedUri"):
            assert mine.get(key) == theirs.get(key), (mine["id"], key)
        assert {c["key"] for c in mine.get("constraint", ())} == {c["key"] for c in theirs.get("constraint", ())}


def test_a_new_slice_copies_the_sliced_element_with_minimum_zero_and_comes_after_its_children() -> None:
    elements = snapshot(profile("bsn", BASE + "Patient", [
        {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1,
         "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}},
        {"id": "Patient.identifier:bsn", "path": "Patient.identifier", "sliceName": "bsn", "max": "1",
         "patternIdentifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn"}},
        {"id": "Patient.identifier:bsn.value", "path": "Patient.identifier.value", "min": 1},
    ]))
    bsn = elements["Patient.identifier:bsn"]
    assert (bsn["min"], bsn["max"], bsn["sliceName"]) == (0, "1", "bsn")
    assert bsn["patternIdentifier"] == {"system": "http://fhir.nl/fhir/NamingSystem/bsn"}
    assert "slicing" not in bsn and elements["Patient.identifier"]["slicing"]["rules"] == "open"
    assert elements["Patient.identifier"]["min"] == 1
    assert elements["Patient.identifier:bsn.value"]["min"] == 1
    assert elements["Patient.identifier:bsn.value"]["base"]["path"] == "Identifier.value"
    order = list(elements)
    assert order.index("Patient.identifier") < order.index("Patient.identifier:bsn") < order.index("Patient.active")
    assert "Patient.identifier.value" not in elements  # only the slice was constrained below, so only it is expanded


def test_without_ids_slices_are_inferred_from_the_previous_elements() -> None:
    elements = snapshot(profile("no-ids", BASE + "Patient", [
        {"path": "Patient.identifier", "slicing": {"discriminator": [{"type": "value", "path": "system"}],
                                                  "rules": "open"}},
        {"path": "Patient.identifier", "sliceName": "bsn"},
        {"path": "Patient.identifier.system", "min": 1},
    ]))
    assert elements["Patient.identifier:bsn.system"]["min"] == 1


def test_constraining_a_datatype_child_expands_the_datatype() -> None:
    elements = snapshot(profile("family", BASE + "Patient", [
        {"id": "Patient.name.family", "path": "Patient.name.family", "min": 1},
    ]))
    assert ids_under(elements, "Patient.name.") == [
        "Patient.name.id", "Patient.name.extension", "Patient.name.use", "Patient.name.text",
        "Patient.name.family", "Patient.name.given", "Patient.name.prefix", "Patient.name.suffix",
        "Patient.name.period",
    ]
    assert elements["Patient.name.family"]["min"] == 1
    assert "Patient.telecom.system" not in elements


def test_children_come_from_the_type_profile_generated_first_whatever_the_order() -> None:
    name_profile = profile("DutchName", BASE + "HumanName", [
        {"id": "HumanName", "path": "HumanName"},
        {"id": "HumanName.family", "path": "HumanName.family", "min": 1},
    ], type_code="HumanName")
    patient = profile("NamedPatient", BASE + "Patient", [
        {"id": "Patient.name", "path": "Patient.name",
         "type": [{"code": "HumanName", "profile": [EXAMPLE + "DutchName"]}]},
        {"id": "Patient.name.given", "path": "Patient.name.given", "max": "1"},
    ])
    elements = snapshot(patient, name_profile)
    assert elements["Patient.name.family"]["min"] == 1  # from the type profile's snapshot
    assert elements["Patient.name.given"]["max"] == "1"


def test_an_extension_slice_takes_its_children_from_the_extension_definition() -> None:
    nationality = BASE + "patient-nationality"
    elements = snapshot(profile("nationality", BASE + "Patient", [
        {"id": "Patient.extension:nationality", "path": "Patient.extension", "sliceName": "nationality",
         "type": [{"code": "Extension", "profile": [nationality]}]},
        {"id": "Patient.extension:nationality.extension:code.value[x]", "path": "Patient.extension.extension.value[x]",
         "binding": {"strength": "required", "valueSet": "http://example.org/fhir/ValueSet/countries"}},
    ]))
    assert elements["Patient.extension"]["slicing"]["discriminator"] == [{"type": "value", "path": "url"}]
    assert elements["Patient.extension:nationality.url"]["fixedUri"] == nationality
    assert elements["Patient.extension:nationality.extension:code.url"]["fixedUri"] == "code"
    code_value = elements["Patient.extension:nationality.extension:code.value[x]"]
    assert code_value["binding"] == {"strength": "required", "valueSet": "http://example.org/fhir/ValueSet/countries"}
    assert code_value["type"] == [{"code": "CodeableConcept"}]
    assert "Patient.extension:nationality.extension:period" in elements


def test_a_choice_type_slice_narrows_the_type_and_gets_type_slicing() -> None:
    elements = snapshot(profile("effective", BASE + "Observation", [
        {"id": "Observation.effective[x]:effectivePeriod", "path": "Observation.effective[x]",
         "sliceName": "effectivePeriod"},
        {"id": "Observation.effective[x]:effectivePeriod.start", "path": "Observation.effective[x].start", "min": 1},
    ], type_code="Observation"))
    assert elements["Observation.effective[x]"]["slicing"]["discriminator"] == [{"type": "type", "path": "$this"}]
    assert len(elements["Observation.effective[x]"]["type"]) == 4
    assert elements["Observation.effective[x]:effectivePeriod"]["type"] == [{"code": "Period"}]
    assert elements["Observation.effective[x]:effectivePeriod.start"]["min"] == 1


def test_a_renamed_choice_path_narrows_the_choice_element() -> None:
    elements = snapshot(profile("quantity", BASE + "Observation", [
        {"id": "Observation.valueQuantity", "path": "Observation.valueQuantity", "min": 1},
        {"id": "Observation.valueQuantity.system", "path": "Observation.valueQuantity.system",
         "fixedUri": "http://unitsofmeasure.org"},
    ], type_code="Observation"))
    assert elements["Observation.value[x]"]["type"] == [{"code": "Quantity"}]
    assert elements["Observation.value[x]"]["min"] == 1
    assert elements["Observation.value[x].system"]["fixedUri"] == "http://unitsofmeasure.org"
    assert "Observation.valueQuantity" not in elements


def test_a_differential_of_a_differential_inherits_slices_and_reslices_them() -> None:
    base = profile("sliced", BASE + "Patient", [
        {"id": "Patient.identifier", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}},
        {"id": "Patient.identifier:local", "path": "Patient.identifier", "sliceName": "local", "max": "2",
         "patternIdentifier": {"system": "http://example.org/local"}},
    ])
    derived = profile("resliced", EXAMPLE + "sliced", [
        {"id": "Patient.identifier:local", "path": "Patient.identifier",
         "slicing": {"discriminator": [{"type": "value", "path": "type"}], "rules": "closed"}},
        {"id": "Patient.identifier:local/mrn", "path": "Patient.identifier", "sliceName": "local/mrn", "min": 1},
        {"id": "Patient.identifier:local.value", "path": "Patient.identifier.value", "min": 1},
    ])
    elements = snapshot(derived, base)
    local = elements["Patient.identifier:local"]
    assert local["max"] == "2" and local["slicing"]["rules"] == "closed"
    mrn = elements["Patient.identifier:local/mrn"]
    assert mrn["patternIdentifier"] == {"system": "http://example.org/local"}
    assert (mrn["min"], mrn["max"]) == (1, "2")
    order = list(elements)
    assert order.index("Patient.identifier:local") < order.index("Patient.identifier:local.value") \
        < order.index("Patient.identifier:local/mrn") < order.index("Patient.active")


def test_a_content_reference_is_expanded_from_the_element_it_names() -> None:
    elements = snapshot(profile("nested-items", BASE + "Questionnaire", [
        {"id": "Questionnaire.item.item.text", "path": "Questionnaire.item.item.text", "min": 1},
    ], type_code="Questionnaire"))
    assert elements["Questionnaire.item.item.text"]["min"] == 1
    assert "Questionnaire.item.item.linkId" in elements
    assert elements["Questionnaire.item.item.linkId"]["base"]["path"] == "Questionnaire.item.linkId"


def test_constraints_add_to_the_inherited_ones_and_bindings_change_only_what_they_state() -> None:
    elements = snapshot(profile("rules", BASE + "Patient", [
        {"id": "Patient", "path": "Patient",
         "constraint": [{"key": "nl-1", "severity": "error", "human": "a name", "expression": "name.exists()"}]},
        {"id": "Patient.gender", "path": "Patient.gender", "binding": {"strength": "extensible"}},
        {"id": "Patient.maritalStatus", "path": "Patient.maritalStatus",
         "binding": {"strength": "required", "valueSet": "http://example.org/fhir/ValueSet/marital"}},
    ]))
    constraints = {c["key"]: c for c in elements["Patient"]["constraint"]}
    assert {"dom-2", "dom-6", "nl-1"} <= set(constraints)
    assert constraints["nl-1"]["source"] == EXAMPLE + "rules"
    gender = elements["Patient.gender"]["binding"]
    assert gender["strength"] == "extensible"
    assert gender["valueSet"] == "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"
    assert elements["Patient.maritalStatus"]["binding"] == {
        "strength": "required", "valueSet": "http://example.org/fhir/ValueSet/marital"}


def test_an_unknown_base_names_the_file() -> None:
    with pytest.raises(ConformanceError, match=r"orphan\.json: .*base definition .*Nothing.* is unknown"):
        snapshot(profile("orphan", EXAMPLE + "Nothing", [{"id": "Patient", "path": "Patient"}]))


def test_an_element_that_matches_nothing_names_the_file_and_the_element() -> None:
    with pytest.raises(ConformanceError, match=r"typo\.json: .*Patient\.nmae matches nothing"):
        snapshot(profile("typo", BASE + "Patient", [{"id": "Patient.nmae", "path": "Patient.nmae", "min": 1}]))


def test_children_of_an_element_with_several_types_are_ambiguous() -> None:
    with pytest.raises(ConformanceError, match=r"Observation\.value\[x\] has 11 types"):
        snapshot(profile("ambiguous", BASE + "Observation", [
            {"id": "Observation.value[x].id", "path": "Observation.value[x].id", "min": 1},
        ], type_code="Observation"))


def test_a_cyclic_derivation_is_refused() -> None:
    first = profile("first", EXAMPLE + "second", [{"id": "Patient", "path": "Patient"}])
    second = profile("second", EXAMPLE + "first", [{"id": "Patient", "path": "Patient"}])
    with pytest.raises(ConformanceError, match=r"cyclic derivation: .*first -> .*second -> .*first"):
        snapshot(first, second)


def test_generating_leaves_the_base_definitions_unchanged() -> None:
    registry = Conformance()
    derived = profile("sliced-names", BASE + "Patient", [
        {"id": "Patient.name", "path": "Patient.name", "min": 1,
         "slicing": {"discriminator": [{"type": "value", "path": "use"}], "rules": "open"}},
        {"id": "Patient.name:official", "path": "Patient.name", "sliceName": "official"},
        {"id": "Patient.name:official.family", "path": "Patient.name.family", "min": 1, "alias": ["achternaam"],
         "constraint": [{"key": "nl-2", "severity": "error", "human": "x", "expression": "true"}]},
    ])
    registry.add(derived, "sliced-names.json")
    before = orjson.dumps([registry.type_definition("Patient"), registry.type_definition("HumanName")])
    generate_snapshots(registry)
    assert orjson.dumps([registry.type_definition("Patient"), registry.type_definition("HumanName")]) == before
    assert len(derived["snapshot"]["element"]) > len(registry.type_definition("Patient")["snapshot"]["element"])
