"""A CodeSystem resource turned into lookup tables: concepts by code and the hierarchy both ways.

FHIR states a hierarchy in three ways (nested ``concept`` lists, ``parent`` properties, ``child``
properties; the v3 tables use the first, some HL7 tables the others); all three end up in the same
``parents``/``children`` maps, so subsumption filters work the same whatever the source wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

INACTIVE_STATUSES = frozenset({"retired", "inactive"})
ABSTRACT_PROPERTIES = frozenset({"notSelectable", "abstract"})


@dataclass(frozen=True)
class Concept:
    """One concept of a code system, as the resource defines it."""

    code: str
    display: str | None
    definition: str | None
    designations: tuple[dict[str, Any], ...]
    properties: tuple[dict[str, Any], ...]  # FHIR ``concept.property`` entries: code + value[x]

    def property_values(self, code: str) -> list[Any]:
        return [property_value(prop) for prop in self.properties if prop.get("code") == code]

    @property
    def abstract(self) -> bool:
        """Only a grouper (v3 ``notSelectable``): not meant to be used in data."""
        return any(value is True for name in ABSTRACT_PROPERTIES for value in self.property_values(name))

    @property
    def inactive(self) -> bool:
        return True in self.property_values("inactive") or any(
            value in INACTIVE_STATUSES for value in self.property_values("status")
        )


def property_value(prop: dict[str, Any]) -> Any:
    """The value of a ``property`` or ``filter``-like element, whatever its ``value[x]`` type."""
    return next((value for key, value in prop.items() if key.startswith("value")), None)


class CodeSystemIndex:
    """Read-only lookups over one CodeSystem; built once per system and shared between threads."""

    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("title") or resource.get("name") or self.url
        self.content: str = resource.get("content", "complete")
        self.case_sensitive: bool = resource.get("caseSensitive", True) is not False
        self.concepts: dict[str, Concept] = {}
        parents: dict[str, list[str]] = {}
        for concept, parent in _walk(resource.get("concept") or [], None):
            self.concepts.setdefault(concept.code, concept)
            if parent is not None:
                parents.setdefault(concept.code, []).append(parent)
            for value in concept.property_values("parent"):
                parents.setdefault(concept.code, []).append(str(value))
            for value in concept.property_values("child"):
                parents.setdefault(str(value), []).append(concept.code)
        self.parents: dict[str, tuple[str, ...]] = {code: tuple(dict.fromkeys(p)) for code, p in parents.items()}
        children: dict[str, list[str]] = {}
        for code, codes in self.parents.items():
            for parent in codes:
                children.setdefault(parent, []).append(code)
        self.children: dict[str, tuple[str, ...]] = {code: tuple(c) for code, c in children.items()}
        self._folded = {code.lower(): code for code in self.concepts} if not self.case_sensitive else {}

    @property
    def complete(self) -> bool:
        """Whether every code of the system is in the resource (only then can absence be decided)."""
        return self.content == "complete"

    def find(self, code: str) -> Concept | None:
        """The concept with this code; case-insensitive where the code system says so."""
        concept = self.concepts.get(code)
        if concept is None and self._folded:
            folded = self._folded.get(code.lower())
            concept = self.concepts.get(folded) if folded is not None else None
        return concept

    def descendants(self, code: str) -> set[str]:
        """Every code below ``code`` (not ``code`` itself)."""
        return _closure(code, self.children)

    def ancestors(self, code: str) -> set[str]:
        """Every code above ``code`` (not ``code`` itself)."""
        return _closure(code, self.parents)

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())


def _walk(concepts: Iterable[dict[str, Any]], parent: str | None) -> Iterator[tuple[Concept, str | None]]:
    for raw in concepts:
        code = raw.get("code")
        if not isinstance(code, str):
            continue
        yield Concept(
            code=code,
            display=raw.get("display"),
            definition=raw.get("definition"),
            designations=tuple(raw.get("designation") or ()),
            properties=tuple(raw.get("property") or ()),
        ), parent
        yield from _walk(raw.get("concept") or [], code)


def _closure(start: str, edges: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    pending = list(edges.get(start, ()))
    while pending:
        code = pending.pop()
        if code not in seen:
            seen.add(code)
            pending.extend(edges.get(code, ()))
    seen.discard(start)
    return seen
