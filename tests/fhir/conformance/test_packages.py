"""Reading FHIR packages (npm .tgz and folders, JSON and XML) and loading them into a registry."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from samen.fhir.conformance import Conformance, ConformanceError
from samen.fhir.conformance.loading import load_packages
from samen.fhir.conformance.packages import read_package
from samen.fhir.model import Model

EXAMPLE = "http://example.org/fhir/"
PROFILE = {
    "resourceType": "StructureDefinition", "url": EXAMPLE + "StructureDefinition/named", "name": "Named",
    "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient", "derivation": "constraint",
    "differential": {"element": [{"id": "Patient.name", "path": "Patient.name", "min": 1}]},
}
VALUE_SET_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <Patient> in it -->
<ValueSet xmlns="http://hl7.org/fhir">
  <url value="{EXAMPLE}ValueSet/colours"/>
  <version value="1.0"/>
  <status value="active"/>
</ValueSet>
"""
BUNDLE = {
    "resourceType": "Bundle", "type": "collection",
    "entry": [
        {"resource": {"resourceType": "CodeSystem", "url": EXAMPLE + "CodeSystem/colours", "status": "active",
                      "content": "complete", "concept": [{"code": "red"}]}},
        {"resource": {"resourceType": "SearchParameter", "url": EXAMPLE + "SearchParameter/x", "status": "active"}},
    ],
}
EXAMPLE_PATIENT_XML = '<Patient xmlns="http://hl7.org/fhir"><id value="p1"/></Patient>'
MANIFEST = {"name": "example.fhir.colours", "version": "1.2.3"}


def as_bytes(content: Any) -> bytes:
    """Files are given as bytes, text, or a resource to write as JSON."""
    if isinstance(content, bytes):
        return content
    return content.encode() if isinstance(content, str) else orjson.dumps(content)


def write_folder(folder: Path, files: dict[str, Any]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(as_bytes(content))
    return folder


def write_tarball(path: Path, files: dict[str, Any]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            data = as_bytes(content)
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def package_files() -> dict[str, Any]:
    return {
        "package.json": MANIFEST,
        "StructureDefinition-named.json": PROFILE,
        "terminology/ValueSet-colours.xml": VALUE_SET_XML,
        "bundle.json": BUNDLE,
        "examples/Patient-p1.xml": EXAMPLE_PATIENT_XML,
        "fhirpkg.lock.json": {"dependencies": {}},
        "images/logo.png": b"\x89PNG\r\n\x1a\n\xff\xfe",
    }


def test_a_folder_is_read_recursively_in_json_and_xml_keeping_conformance_resources(
    tmp_path: Path, model: Model
) -> None:
    package = read_package(write_folder(tmp_path, package_files()), model)
    assert (package.info.name, package.info.version) == ("example.fhir.colours", "1.2.3")
    assert package.info.counts == {"CodeSystem": 1, "StructureDefinition": 1, "ValueSet": 1}
    sources = {resource["url"]: source for resource, source in package.resources}
    assert sources[EXAMPLE + "ValueSet/colours"] == str(tmp_path / "terminology/ValueSet-colours.xml")
    assert sources[EXAMPLE + "CodeSystem/colours"] == f"{tmp_path / 'bundle.json'}#entry[0]"


def test_an_npm_tarball_is_read_from_its_package_folder(tmp_path: Path, model: Model) -> None:
    files = {f"package/{name}": content for name, content in package_files().items()}
    files["other/ValueSet-outside.json"] = {"resourceType": "ValueSet", "url": EXAMPLE + "outside"}
    tarball = write_tarball(tmp_path / "colours-1.2.3.tgz", files)
    package = read_package(tarball, model)
    assert (package.info.name, package.info.version) == ("example.fhir.colours", "1.2.3")
    assert package.info.counts == {"CodeSystem": 1, "StructureDefinition": 1, "ValueSet": 1}
    sources = {resource["url"]: source for resource, source in package.resources}
    assert sources[EXAMPLE + "StructureDefinition/named"] == f"{tarball}:package/StructureDefinition-named.json"


def test_a_folder_without_manifest_is_named_after_itself(tmp_path: Path, model: Model) -> None:
    folder = write_folder(tmp_path / "loose", {"ValueSet-colours.xml": VALUE_SET_XML})
    assert (read_package(folder, model).info.name, read_package(folder, model).info.version) == ("loose", "unversioned")


def test_a_file_that_is_not_gzip_is_refused_with_its_name(tmp_path: Path, model: Model) -> None:
    bad = tmp_path / "broken.tgz"
    bad.write_bytes(b"this is not a tarball")
    with pytest.raises(ConformanceError, match=r"broken\.tgz: not a readable npm package"):
        read_package(bad, model)


def test_bad_json_is_refused_with_the_file_name(tmp_path: Path, model: Model) -> None:
    folder = write_folder(tmp_path, {"ok.json": PROFILE, "sub/broken.json": '{"resourceType": "ValueSet",'})
    with pytest.raises(ConformanceError, match=r"sub/broken\.json: invalid JSON"):
        read_package(folder, model)


def test_bad_xml_is_refused_with_the_file_name(tmp_path: Path, model: Model) -> None:
    folder = write_folder(tmp_path, {"ValueSet-broken.xml": '<ValueSet xmlns="http://hl7.org/fhir"><url value="x">'})
    with pytest.raises(ConformanceError, match=r"ValueSet-broken\.xml: invalid FHIR XML"):
        read_package(folder, model)


def test_bad_json_inside_a_tarball_names_the_member(tmp_path: Path, model: Model) -> None:
    tarball = write_tarball(tmp_path / "p.tgz", {"package/ValueSet-x.json": "{nope"})
    with pytest.raises(ConformanceError, match=r"p\.tgz:package/ValueSet-x\.json: invalid JSON"):
        read_package(tarball, model)


def test_load_packages_registers_resources_with_their_files_and_generates_snapshots(
    tmp_path: Path, model: Model
) -> None:
    registry = Conformance()
    first = write_folder(tmp_path / "first", package_files())
    newer = {**PROFILE, "differential": {"element": [{"id": "Patient.name", "path": "Patient.name", "min": 2}]}}
    second = write_tarball(tmp_path / "second.tgz", {"package/package.json": {"name": "second", "version": "1"},
                                                   "package/named.json": newer})
    infos = load_packages([first, second], registry, model)
    assert [(info.name, info.path) for info in infos] == [("example.fhir.colours", first), ("second", second)]
    named = registry.structure_definition(EXAMPLE + "StructureDefinition/named")
    assert named is not None and registry.source_of(named["url"]) == f"{second}:package/named.json"
    name = next(e for e in named["snapshot"]["element"] if e["id"] == "Patient.name")
    assert name["min"] == 2  # the later package wins
    assert registry.code_system(EXAMPLE + "CodeSystem/colours")["concept"] == [{"code": "red"}]
    assert registry.value_set(EXAMPLE + "ValueSet/colours|1.0") is not None


def test_a_package_cannot_replace_the_core_definition_of_a_type(tmp_path: Path, model: Model) -> None:
    redefined = {**PROFILE, "url": "http://hl7.org/fhir/StructureDefinition/Patient"}
    folder = write_folder(tmp_path / "p", {"Patient.json": redefined})
    with pytest.raises(ConformanceError, match=r"Patient\.json: .*the R4 core definition of the type Patient"):
        load_packages([folder], Conformance(), model)


def test_a_package_may_replace_core_terminology_and_extensions_but_it_is_logged(tmp_path: Path, model: Model) -> None:
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    newer = {"resourceType": "ValueSet", "url": gender, "version": "5.0.0", "status": "active",
             "compose": {"include": [{"system": "http://hl7.org/fhir/administrative-gender"}]}}
    folder = write_folder(tmp_path / "p", {"gender.json": newer})
    registry = Conformance()
    with capture_logs() as logs:
        load_packages([folder], registry, model)
    assert registry.value_set(gender)["version"] == "5.0.0"
    replaced = [entry for entry in logs if entry["event"] == "package resource replaces the R4 core's"]
    assert replaced and replaced[0]["url"] == gender and replaced[0]["file"].endswith("gender.json")


def test_a_url_in_two_packages_is_logged_with_both_files(tmp_path: Path, model: Model) -> None:
    first = write_folder(tmp_path / "first", {"named.json": PROFILE})
    second = write_folder(tmp_path / "second", {"named.json": {**PROFILE, "version": "2"}})
    with capture_logs() as logs:
        load_packages([first, second], Conformance(), model)
    replaced = [entry for entry in logs if entry["event"] == "package resource replaces an earlier one"]
    assert [(entry["file"], entry["replaced"]) for entry in replaced] == [
        (str(second / "named.json"), str(first / "named.json"))
    ]


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"differential": "Patient.name min 1"}, "StructureDefinition.differential"),
        ({"differential": {"element": ["Patient.name"]}}, "StructureDefinition.differential.element[0]"),
        ({"differential": {"element": [{"id": "Patient.name", "path": "Patient.name", "min": "1"}]}},
         "StructureDefinition.differential.element[0].min"),
        ({"differential": {"element": [{"id": "Patient.name", "path": "Patient.name", "type": "HumanName"}]}},
         "StructureDefinition.differential.element[0].type"),
        ({"baseDefinition": 5}, "StructureDefinition.baseDefinition"),
        ({"type": None}, "StructureDefinition.type"),
        ({"snapshot": {"element": [{"id": "Patient"}]}}, "StructureDefinition.snapshot.element[0]"),
    ],
)
def test_a_resource_that_is_no_valid_r4_definition_stops_the_load_naming_file_and_element(
    tmp_path: Path, model: Model, change: dict[str, Any], expression: str
) -> None:
    broken = {key: value for key, value in {**PROFILE, **change}.items() if value is not None}
    folder = write_folder(tmp_path / "p", {"named.json": broken})
    with pytest.raises(ConformanceError, match="named.json: not a valid StructureDefinition") as caught:
        load_packages([folder], Conformance(), model)
    assert expression in str(caught.value)


def test_a_code_system_with_malformed_concepts_stops_the_load(tmp_path: Path, model: Model) -> None:
    broken = {**BUNDLE["entry"][0]["resource"], "concept": ["red"]}
    folder = write_folder(tmp_path / "p", {"colours.json": broken})
    with pytest.raises(ConformanceError, match=r"colours.json: not a valid CodeSystem: CodeSystem.concept\[0\]"):
        load_packages([folder], Conformance(), model)
