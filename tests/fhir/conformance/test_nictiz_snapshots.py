"""The Nictiz zib2020 and nl-core packages (differentials only, in XML) load together and get correct snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.conformance.loading import load_packages
from samen.fhir.conformance.packages import PackageInfo
from samen.fhir.model import Model

NICTIZ = "http://nictiz.nl/fhir/StructureDefinition/"
COMPARED = ("min", "max", "type", "sliceName", "fixedUri", "fixedCode", "patternCodeableConcept",
            "patternIdentifier", "patternCoding", "patternQuantity", "contentReference")


@pytest.fixture(scope="module")
def loaded(nictiz_dir: Path, model: Model) -> tuple[Conformance, list[PackageInfo]]:
    registry = Conformance()
    infos = load_packages([nictiz_dir / "zib", nictiz_dir / "nl-core"], registry, model)
    return registry, infos


@pytest.fixture(scope="module")
def registry(loaded: tuple[Conformance, list[PackageInfo]]) -> Conformance:
    return loaded[0]


def elements(registry: Conformance, name: str) -> dict[str, dict[str, Any]]:
    definition = registry.structure_definition(NICTIZ + name)
    assert definition is not None, name
    return {element["id"]: element for element in definition["snapshot"]["element"]}


def test_both_packages_load_with_their_profiles_and_terminology(loaded: tuple[Conformance, list[PackageInfo]]) -> None:
    _, infos = loaded
    assert [(info.name, info.version) for info in infos] == [
        ("nictiz.fhir.nl.r4.zib2020", "0.12.1-beta.1"), ("nictiz.fhir.nl.r4.nl-core", "0.12.1-beta.1")]
    assert infos[0].counts == {"CodeSystem": 103, "StructureDefinition": 190, "ValueSet": 268}
    assert infos[1].counts == {"StructureDefinition": 164, "ValueSet": 4}


def test_every_profile_gets_a_snapshot_with_unique_ids_holding_its_whole_differential(registry: Conformance) -> None:
    definitions = list(registry.local_resources("StructureDefinition"))
    assert len(definitions) == 354
    for definition in definitions:
        snapshot = definition["snapshot"]["element"]
        by_id = {element["id"]: element for element in snapshot}
        assert len(by_id) == len(snapshot), definition["url"]
        assert snapshot[0]["path"] == definition["type"]
        for constrained in definition["differential"]["element"]:
            element = by_id.get(constrained["id"])
            assert element is not None, (definition["url"], constrained["id"])
            for key in COMPARED:
                if key in constrained:
                    assert element[key] == constrained[key], (definition["url"], constrained["id"], key)


def test_every_slice_belongs_to_a_sliced_element(registry: Conformance) -> None:
    for definition in registry.local_resources("StructureDefinition"):
        by_id = {element["id"]: element for element in definition["snapshot"]["element"]}
        for element in by_id.values():
            if "sliceName" in element:
                entry = by_id[element["id"].rpartition(":")[0]]
                assert "slicing" in entry, (definition["url"], element["id"])


def test_nl_core_patient_inherits_the_bsn_slice_of_zib_patient(registry: Conformance) -> None:
    patient = elements(registry, "nl-core-Patient")
    bsn = patient["Patient.identifier:bsn"]
    assert bsn["patternIdentifier"] == {"system": "http://fhir.nl/fhir/NamingSystem/bsn"}
    assert (bsn["min"], bsn["max"]) == (0, "*")
    assert patient["Patient.identifier"]["slicing"]["discriminator"] == [{"type": "value", "path": "$this"}]
    name = patient["Patient.name:nameInformation"]
    assert name["max"] == "2"  # zib-Patient's
    assert name["type"] == [{"code": "HumanName", "profile": [NICTIZ + "nl-core-NameInformation"]}]  # nl-core's
    general_practitioner = patient["Patient.generalPractitioner"]["type"][0]["targetProfile"]
    assert NICTIZ + "nl-core-HealthProfessional-PractitionerRole" in general_practitioner


def test_extension_slices_are_expanded_from_their_extension_definitions(registry: Conformance) -> None:
    patient = elements(registry, "nl-core-Patient")
    code = patient["Patient.extension:nationality.extension:code.value[x]"]
    assert code["binding"]["valueSet"].endswith("2.16.840.1.113883.2.4.3.11.60.40.2.7.6.3--20200901000000")
    assert code["type"] == [{"code": "CodeableConcept"}]  # from the core patient-nationality extension
    assert patient["Patient.extension:nationality.url"]["fixedUri"] == \
        "http://hl7.org/fhir/StructureDefinition/patient-nationality"
    level = patient["Patient.communication.extension:languageControl.extension:level.value[x]"]["binding"]
    assert level == {"strength": "required",
                     "valueSet": "http://terminology.hl7.org/ValueSet/v3-LanguageAbilityProficiency"}
    assert patient["Patient.communication.extension:languageControl.extension"]["min"] == 2


def test_datatype_children_are_expanded_where_a_profile_constrains_them(registry: Conformance) -> None:
    vital_signs = elements(registry, "pattern-VitalSigns")
    assert vital_signs["Observation.code.coding"]["min"] == 1
    assert vital_signs["Observation.code.text"]["base"]["path"] == "CodeableConcept.text"
    body_weight = elements(registry, "zib-BodyWeight")
    assert "Observation.note.text" in body_weight and "Observation.note.authorString" not in body_weight
    assert body_weight["Observation.note.author[x]"]["type"][0]["code"] == "Reference"


def test_zib_profiles_narrow_value_x(registry: Conformance) -> None:
    body_weight = elements(registry, "zib-BodyWeight")
    value = body_weight["Observation.value[x]"]
    assert value["type"] == [{"code": "Quantity"}]
    assert value["binding"]["valueSet"] == "http://nictiz.nl/fhir/ValueSet/zib-BodyWeight-units"
    assert body_weight["Observation.component:clothing.value[x]"]["type"] == [{"code": "CodeableConcept"}]
    assert body_weight["Observation.effective[x]:effectiveDateTime"]["type"] == [{"code": "dateTime"}]


def test_blood_pressure_builds_on_the_vital_signs_pattern(registry: Conformance) -> None:
    for name in ("zib-BloodPressure", "nl-core-BloodPressure"):
        blood_pressure = elements(registry, name)
        assert "vs-2" in {c["key"] for c in blood_pressure["Observation"]["constraint"]}
        category = blood_pressure["Observation.category:VSCat"]
        assert category["patternCodeableConcept"]["coding"][0]["code"] == "vital-signs"
        assert {"Observation.component:SystolicBP", "Observation.component:DiastolicBP"} <= blood_pressure.keys()
        assert blood_pressure["Observation.component"]["slicing"]["discriminator"][0]["path"] == "code"
