"""Reading a FHIR package: an npm ``.tgz`` or a folder of conformance resources in JSON or XML.

A package contributes StructureDefinitions, ValueSets and CodeSystems (Bundles of them are
unpacked); every other resource (examples, ImplementationGuides, ConceptMaps...) is skipped with a
debug log. Any file that cannot be read (not gzip, bad JSON or XML) is a :class:`ConformanceError`
naming that file, so a node refuses to start on a broken package instead of serving without it.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from samen.fhir.conformance.registry import ConformanceError
from samen.fhir.model import Model
from samen.fhir.xml import XmlFormatError, parse_resource

KEPT_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
_READ_SUFFIXES = (".json", ".xml")
_NPM_ROOT = "package/"
_MANIFEST = "package.json"
# The first element of an XML document, past its declaration, comments and processing instructions:
# lets a folder full of examples be skipped without parsing every instance.
_XML_ROOT = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
_XML_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PackageInfo:
    """What a loaded package was: its manifest name and version, where it came from, what it held."""

    name: str
    version: str
    path: Path
    counts: dict[str, int] = field(default_factory=dict)  # resource type -> number kept


@dataclass(frozen=True)
class Package:
    info: PackageInfo
    resources: list[tuple[dict[str, Any], str]]  # (resource, the file it came from)


def read_package(path: Path, model: Model) -> Package:
    """Read a package ``.tgz`` or folder; raises :class:`ConformanceError` naming a file it cannot read."""
    if path.is_dir():
        files = _folder_files(path)
    elif path.is_file():
        files = _tarball_files(path)
    else:
        raise ConformanceError(str(path), "no such package file or folder")
    manifest: dict[str, Any] = {}
    resources: list[tuple[dict[str, Any], str]] = []
    for name, source, data in files:
        if name == _MANIFEST:
            manifest = _json(data, source)
        else:
            resources.extend(_conformance_resources(name, source, data, model))
    counts = Counter(resource["resourceType"] for resource, _ in resources)
    info = PackageInfo(
        name=str(manifest.get("name") or path.name),
        version=str(manifest.get("version") or "unversioned"),
        path=path,
        counts=dict(sorted(counts.items())),
    )
    return Package(info, resources)


def _folder_files(folder: Path) -> Iterator[tuple[str, str, bytes]]:
    """(name relative to the package root, file for messages, bytes) of the JSON and XML files, recursively."""
    for file in sorted(folder.rglob("*")):
        if file.suffix in _READ_SUFFIXES and file.is_file():
            yield file.relative_to(folder).as_posix(), str(file), file.read_bytes()


def _tarball_files(tarball: Path) -> Iterator[tuple[str, str, bytes]]:
    """The JSON and XML files under ``package/`` of an npm package tarball."""
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            for member in archive:
                if not (member.isfile() and member.name.startswith(_NPM_ROOT) and member.name.endswith(_READ_SUFFIXES)):
                    continue
                extracted = archive.extractfile(member)
                assert extracted is not None  # a regular file always has a body
                yield member.name[len(_NPM_ROOT):], f"{tarball}:{member.name}", extracted.read()
    except (tarfile.TarError, zlib.error, EOFError, OSError) as error:
        raise ConformanceError(str(tarball), f"not a readable npm package (.tgz): {error}") from error


def _conformance_resources(
    name: str, source: str, data: bytes, model: Model
) -> Iterator[tuple[dict[str, Any], str]]:
    if name.endswith(".xml"):
        root = _xml_root(data)
        if root not in KEPT_TYPES and root != "Bundle":
            log.debug("package file skipped", file=source, root=root)
            return
        resource = _xml(data, source, model)
    else:
        resource = _json(data, source)
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    if resource_type == "Bundle":
        for index, entry in enumerate(resource.get("entry") or ()):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict) and inner.get("resourceType") in KEPT_TYPES:
                yield inner, f"{source}#entry[{index}]"
    elif resource_type in KEPT_TYPES:
        yield resource, source
    else:
        log.debug("package file skipped", file=source, resource_type=resource_type)


def _xml_root(data: bytes) -> str | None:
    match = _XML_ROOT.search(_XML_COMMENT.sub(b"", data[:16384]))
    return match.group(1).decode() if match else None


def _xml(data: bytes, source: str, model: Model) -> dict[str, Any]:
    try:
        return parse_resource(data, model)
    except XmlFormatError as error:
        raise ConformanceError(source, f"invalid FHIR XML: {error}") from error


def _json(data: bytes, source: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ConformanceError(source, f"invalid JSON: {error}") from error
