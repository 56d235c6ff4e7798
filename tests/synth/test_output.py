"""The written output: determinism, manifest, synthetic tag, references within and across custodians."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import SMALL, manifest, resources, tree_bytes

from samen.fhir.model import Model
from samen.sample import SYNTHETIC_TAG, elfproef
from samen.synth.bsn import MAX_PEOPLE
from samen.synth.data.clinical import SPECIALTIES
from samen.synth.fhir import BSN, URA, UZI
from samen.synth.places import EMBEDDED_PLACES
from samen.synth.providers import ProviderNetwork
from samen.synth.run import SynthOptions, generate


def options(out: Path, **changes: Any) -> SynthOptions:
    return SynthOptions(**{**SMALL.__dict__, "out": out, **changes})


def references(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "reference" in node or isinstance(node.get("identifier"), dict) else []
        return found + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


def codings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if {"system", "code", "display"} <= node.keys() else []
        return found + [c for value in node.values() for c in codings(value)]
    if isinstance(node, list):
        return [c for item in node for c in codings(item)]
    return []


def test_same_seed_same_bytes_any_workers_different_seed_different(small_population: Path, tmp_path: Path) -> None:
    generate(options(tmp_path / "two", workers=2))
    assert tree_bytes(tmp_path / "two") == tree_bytes(small_population)
    generate(options(tmp_path / "other", seed=8))
    other = tree_bytes(tmp_path / "other")
    assert other.keys() != tree_bytes(small_population).keys() or other != tree_bytes(small_population)


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(options(tmp_path / "x"))


def test_manifest_lists_every_custodian_and_counts_what_is_written(small_population: Path) -> None:
    listed = manifest(small_population)
    assert listed["people"] == 300 and listed["seed"] == 7
    folders = {p.name for p in small_population.iterdir() if p.is_dir()}
    assert {c["folder"] for c in listed["custodians"]} == folders
    assert {c["kind"] for c in listed["custodians"]} == {"gp", "pharmacy", "hospital", "nursing-home", "home-care",
                                                         "mental-health"}
    for custodian in listed["custodians"]:
        assert len(custodian["ura"]) == 8 and custodian["type"]["code"]
        written = Counter(r["resourceType"] for r in resources(small_population / custodian["folder"]))
        assert dict(written) == custodian["resources"]


def test_every_resource_is_tagged_synthetic(small_population: Path, model: Model) -> None:
    for folder in (p for p in small_population.iterdir() if p.is_dir()):
        for resource in resources(folder):
            assert SYNTHETIC_TAG in resource["meta"]["tag"]
            assert resource["resourceType"] in model.resource_types


def test_references_resolve_inside_each_custodian(small_population: Path) -> None:
    for folder in (p for p in small_population.iterdir() if p.is_dir()):
        held = list(resources(folder))
        ids = {f"{r['resourceType']}/{r['id']}" for r in held}
        assert len(ids) == len(held), "ids are unique per type"
        for resource in held:
            for ref in references(resource):
                if "reference" in ref:
                    assert ref["reference"] in ids, (folder.name, ref)


def test_cross_custodian_links_resolve_by_identifier(small_population: Path) -> None:
    """Identifier references (URA, medication agreement ids) and shared BSNs point at the right custodian."""
    listed = manifest(small_population)["custodians"]
    by_identifier: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    patients_by_bsn: dict[str, set[str]] = defaultdict(set)
    for custodian in listed:
        for resource in resources(small_population / custodian["folder"]):
            for identifier in resource.get("identifier", []):
                by_identifier[(resource["resourceType"], identifier["system"], identifier["value"])].add(
                    custodian["folder"])
            if resource["resourceType"] == "Patient":
                patients_by_bsn[resource["identifier"][0]["value"]].add(custodian["folder"])
    kinds = {c["folder"]: c["kind"] for c in listed}
    linked = Counter()
    for custodian in listed:
        for resource in resources(small_population / custodian["folder"]):
            for ref in references(resource):
                if "identifier" in ref and "reference" not in ref:
                    key = (ref["type"], ref["identifier"]["system"], ref["identifier"]["value"])
                    assert len(by_identifier[key]) == 1, key
                    target = next(iter(by_identifier[key]))
                    assert target != custodian["folder"]
                    linked[(kinds[custodian["folder"]], kinds[target], ref["type"])] += 1
    assert linked[("pharmacy", "gp", "MedicationRequest")] > 0
    assert linked[("pharmacy", "gp", "Organization")] > 0  # Patient.generalPractitioner by URA
    assert linked[("hospital", "gp", "Organization")] > 0
    assert all(elfproef(bsn) for bsn in patients_by_bsn)
    assert all(any(kinds[f] == "gp" for f in folders) and any(kinds[f] == "pharmacy" for f in folders)
               for folders in patients_by_bsn.values()), "everyone is enrolled with a GP and a pharmacy"
    assert max(len(folders) for folders in patients_by_bsn.values()) >= 4
    practitioners = [k for k in by_identifier if k[0] == "Practitioner" and k[1] == UZI]
    assert practitioners and all(len(by_identifier[k]) == 1 for k in practitioners)
    assert all(len(by_identifier[("Organization", URA, c["ura"])]) == 1 for c in listed)
    assert BSN == "http://fhir.nl/fhir/NamingSystem/bsn"


def test_each_custodian_holds_only_its_own_kind_of_records(small_population: Path) -> None:
    allowed = {
        "gp": {"Condition", "Encounter", "Observation", "MedicationRequest", "Immunization", "Flag"},
        "pharmacy": {"MedicationDispense", "MedicationStatement", "AllergyIntolerance"},
        "hospital": {"Condition", "Encounter", "Procedure", "MedicationRequest", "Observation"},
        "nursing-home": {"Condition", "Encounter", "Observation", "Consent", "Flag"},
        "home-care": {"Encounter", "Observation"},
        "mental-health": {"Condition", "Encounter", "MedicationRequest"},
    }
    administration = {"Patient", "Organization", "Location", "HealthcareService", "Practitioner", "PractitionerRole"}
    for custodian in manifest(small_population)["custodians"]:
        assert set(custodian["resources"]) - administration <= allowed[custodian["kind"]], custodian["folder"]


def test_bundle_format_holds_the_same_resources(small_population: Path, tmp_path: Path) -> None:
    generate(options(tmp_path / "bundles", format="bundle"))
    for folder in (p for p in small_population.iterdir() if p.is_dir()):
        bundled = tmp_path / "bundles" / folder.name
        assert all(p.suffix == ".json" for p in bundled.iterdir())
        assert sorted(map(repr, resources(bundled))) == sorted(map(repr, resources(folder)))


def test_agb_codes_start_with_the_vektis_zorgverlenersoort_and_are_unique_at_full_scale() -> None:
    """Organisations and professionals: the first two AGB digits name the kind (see docs/synth.md)."""
    network = ProviderNetwork(1, EMBEDDED_PLACES, MAX_PEOPLE)
    expected = {"gp": "01", "pharmacy": "02", "hospital": "06", "nursing-home": "47", "home-care": "75",
                "mental-health": "54"}
    assert all(p.agb[:2] == expected[p.kind.key] and len(p.agb) == 8 for p in network.providers)
    staff = [person for provider in network.providers for person in provider.staff]
    assert all(p.agb[:2] == SPECIALTIES[p.specialty].agb_kind and len(p.agb) == 8 for p in staff)
    assert len({p.agb for p in staff}) == len(staff) and len({p.agb for p in network.providers}) == len(
        network.providers)
    assert all(s.agb.startswith(s.agb_kind) for s in SPECIALTIES.values() if s.agb)  # COD016 begins with the soort


def test_no_telephone_numbers_that_could_ring_a_real_person(small_population: Path) -> None:
    """No range of Dutch mobile (06) or business (088) numbers is kept free for fiction, so any made-up
    number may be someone's: the synthetic people and providers have none."""
    for folder in (p for p in small_population.iterdir() if p.is_dir()):
        for resource in resources(folder):
            assert b'"phone"' not in orjson.dumps(resource), (folder.name, resource["resourceType"], resource["id"])


def test_district_nursing_is_a_service_of_home_care_only(small_population: Path) -> None:
    """The nurse of a GP practice is a practice nurse (POH), a hospital's is on the ward: not wijkverpleging."""
    for custodian in manifest(small_population)["custodians"]:
        services = {r["type"][0]["text"] for r in resources(small_population / custodian["folder"])
                    if r["resourceType"] == "HealthcareService"}
        assert ("wijkverpleging" in services) == (custodian["kind"] == "home-care"), (custodian["kind"], services)


_AGB_SPECIALISM_CODING = re.compile(r'<system value="urn:oid:2\.16\.840\.1\.113883\.2\.4\.6\.7"/>\s*'
                                    r'(?:<version value="[^"]*"/>\s*)?<code value="(\d+)"/>\s*'
                                    r'<display value="([^"]+)"/>')


def test_agb_specialism_displays_are_the_ones_nictiz_uses(nictiz_dir: Path) -> None:
    """Where the Nictiz zib2020 examples code an AGB specialism we use, they display it the same way."""
    displays = {code: display for example in (nictiz_dir / "examples").glob("*.xml")
                for code, display in _AGB_SPECIALISM_CODING.findall(example.read_text(encoding="utf-8"))}
    compared = [(s.agb, s.agb_display, displays[s.agb]) for s in SPECIALTIES.values() if s.agb in displays]
    assert compared and all(ours == theirs for _, ours, theirs in compared), compared


_PATTERN_CODE = re.compile(r'<pattern(?:CodeableConcept|Coding)>\s*(?:<coding>\s*)?<system value="([^"]+)"\s*/>\s*'
                           r'<code value="([^"]+)"\s*/>')
_EXAMPLE_CODING = re.compile(r'<system value="([^"]+)"/>\s*(?:<version value="[^"]*"/>\s*)?<code value="([^"]+)"/>\s*'
                             r'<display value="([^"]+)"/>')


def test_codes_the_profiles_fix_carry_the_display_nictiz_gives_them(small_population: Path, nictiz_dir: Path) -> None:
    """The codes nl-core fixes (LivingSituation.HouseType's 272497004, the vital signs' LOINC codes, ...)
    are displayed as in Nictiz's own examples (case aside)."""
    fixed = {code for folder in ("zib", "nl-core") for path in (nictiz_dir / folder).glob("*.xml")
             for code in _PATTERN_CODE.findall(path.read_text(encoding="utf-8"))}
    displays: dict[tuple[str, str], set[str]] = defaultdict(set)
    for example in (nictiz_dir / "examples").glob("*.xml"):
        for system, code, display in _EXAMPLE_CODING.findall(example.read_text(encoding="utf-8")):
            displays[(system, code)].add(display.lower())
    ours = {(c["system"], c["code"]): c["display"] for folder in small_population.iterdir() if folder.is_dir()
            for resource in resources(folder) for c in codings(resource)}
    compared = {key: display for key, display in ours.items() if key in fixed and key in displays}
    assert len(compared) >= 5
    assert all(display.lower() in displays[key] for key, display in compared.items()), {
        key: (display, displays[key]) for key, display in compared.items() if display.lower() not in displays[key]}
