"""The registry of conformance resources a node knows, looked up by canonical URL.

The R4 core (written by ``samen definitions fetch``, one file per resource) is read lazily: a
worker only parses the StructureDefinitions and ValueSets it actually uses. Resources from
FHIR packages (``samen serve --package``) are held in memory and take precedence over the core.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import orjson
import structlog

from samen.fhir import definitions

CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"

log = structlog.get_logger(__name__)


class ConformanceError(Exception):
    """A conformance resource or package that cannot be used; the message names the file."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class Conformance:
    """Canonical resources by URL (``url`` or ``url|version``); thread-safe for concurrent readers."""

    def __init__(self, core_dir: Path | None = None) -> None:
        self._core_dir = core_dir if core_dir is not None else definitions.conformance_dir()
        index_path = self._core_dir / "index.json"
        if not index_path.exists():
            raise definitions.DefinitionsMissing(
                f"FHIR R4 conformance resources not found at {self._core_dir}. "
                "Run `samen definitions fetch --force`."
            )
        self._core_index: dict[str, str] = orjson.loads(index_path.read_bytes())
        self._core_cache: dict[str, dict[str, Any]] = {}
        self._local: dict[str, dict[str, Any]] = {}
        self._sources: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- lookups ----------------------------------------------------------------------------

    def get(self, canonical: str) -> dict[str, Any] | None:
        """The resource with this canonical URL; a ``|version`` suffix is honoured when it matches."""
        exact = self._local.get(canonical) or self._core(canonical)  # some core URLs carry "|version" themselves
        if exact is not None:
            return exact
        url, _, version = canonical.partition("|")
        resource = self._local.get(url) or self._core(url)
        if resource is not None and version and resource.get("version") not in (None, version):
            return None
        return resource

    def structure_definition(self, url: str) -> dict[str, Any] | None:
        return self._typed(url, "StructureDefinition")

    def type_definition(self, type_code: str) -> dict[str, Any] | None:
        """The core StructureDefinition of a resource type or datatype (``Patient``, ``HumanName``)."""
        return self.structure_definition(type_code if "/" in type_code else CORE_PREFIX + type_code)

    def value_set(self, url: str) -> dict[str, Any] | None:
        return self._typed(url, "ValueSet")

    def code_system(self, url: str) -> dict[str, Any] | None:
        return self._typed(url, "CodeSystem")

    def source_of(self, url: str) -> str:
        """Where a resource came from: the package file, or ``core`` for the R4 definitions."""
        return self._sources.get(url, "core")

    def local_resources(self, resource_type: str | None = None) -> Iterator[dict[str, Any]]:
        """The resources loaded from packages (not the core), optionally of one type."""
        seen: set[int] = set()
        for resource in self._local.values():
            if id(resource) in seen:
                continue
            seen.add(id(resource))
            if resource_type is None or resource["resourceType"] == resource_type:
                yield resource

    def core_urls(self) -> Iterator[str]:
        return iter(self._core_index)

    # -- loading ----------------------------------------------------------------------------

    def add(self, resource: dict[str, Any], source: str) -> None:
        """Register a package resource under its URL (and ``url|version``); later additions win, and
        replacing a resource of the core or of an earlier package is logged. The core definition of a
        resource type or datatype cannot be replaced: the node's model and validation are built on it."""
        url = resource.get("url")
        if not isinstance(url, str) or not url:
            raise ConformanceError(source, f"{resource.get('resourceType')} without a canonical url")
        core = self._core(url)
        if core is not None and _defines_a_type(core):
            raise ConformanceError(source, f"{url} is the R4 core definition of the type {core['type']}, which a "
                                           "package cannot replace (a profile needs a URL of its own)")
        if core is not None:
            log.warning("package resource replaces the R4 core's", url=url, file=source)
        elif url in self._local and self._local[url] is not resource:
            log.warning("package resource replaces an earlier one", url=url, file=source, replaced=self._sources[url])
        self._local[url] = resource
        if resource.get("version"):
            self._local[f"{url}|{resource['version']}"] = resource
        self._sources[url] = source

    # -- internals --------------------------------------------------------------------------

    def _typed(self, url: str, resource_type: str) -> dict[str, Any] | None:
        resource = self.get(url)
        return resource if resource is not None and resource["resourceType"] == resource_type else None

    def _core(self, url: str) -> dict[str, Any] | None:
        cached = self._core_cache.get(url)
        if cached is not None:
            return cached
        file_name = self._core_index.get(url)
        if file_name is None:
            return None
        resource = orjson.loads((self._core_dir / file_name).read_bytes())
        with self._lock:
            return self._core_cache.setdefault(url, resource)


def _defines_a_type(resource: dict[str, Any]) -> bool:
    """Whether a resource is the definition of a resource type or datatype (not a profile of one)."""
    return resource["resourceType"] == "StructureDefinition" and resource.get("derivation") != "constraint"
