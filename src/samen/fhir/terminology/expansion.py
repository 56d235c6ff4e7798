"""ValueSet definitions (``compose``, or a stored ``expansion``) turned into :mod:`membership` sets.

An include selects the codes of one system (all of them, a list, or by filters) and intersects them
with the value sets it imports; the value set is the union of its includes minus the union of its
excludes (http://hl7.org/fhir/R4/valueset.html#compositions). Whatever the node can list becomes
one :class:`~samen.fhir.terminology.membership.Enumerated` set; whatever it cannot becomes an
:class:`~samen.fhir.terminology.membership.Unlisted` part that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from samen.fhir.terminology.codesystems import CodeSystemIndex, Concept
from samen.fhir.terminology.external import external_system
from samen.fhir.terminology.filters import FilterNotSupported, describe, select
from samen.fhir.terminology.membership import (
    EMPTY,
    Codes,
    Entry,
    Enumerated,
    Unlisted,
    all_of,
    any_of,
    without,
)

CodeSystems = Callable[[str], CodeSystemIndex | None]
ValueSets = Callable[[str], Codes]


class Composer:
    """Builds the set of codes of a ValueSet; code systems and imported value sets come from outside."""

    def __init__(self, code_systems: CodeSystems, value_sets: ValueSets) -> None:
        self._code_systems = code_systems
        self._value_sets = value_sets

    def codes(self, value_set: dict[str, Any]) -> Codes:
        compose = value_set.get("compose")
        if isinstance(compose, dict):
            keep_inactive = compose.get("inactive") is not False
            included = any_of([self._include(i, keep_inactive) for i in compose.get("include") or []] or [EMPTY])
            excludes = [self._include(e, True) for e in compose.get("exclude") or []]
            return without(included, any_of(excludes)) if excludes else included
        if isinstance(value_set.get("expansion"), dict):
            return Enumerated(_expanded(value_set["expansion"].get("contains") or []))
        return Unlisted(None, f"the value set {value_set.get('url', '')} has neither a compose nor an expansion")

    def _include(self, include: dict[str, Any], keep_inactive: bool) -> Codes:
        parts = [self._value_sets(url) for url in include.get("valueSet") or []]
        if isinstance(include.get("system"), str):
            parts.insert(0, self._system_part(include, keep_inactive))
        return all_of(parts) if parts else EMPTY

    def _system_part(self, include: dict[str, Any], keep_inactive: bool) -> Codes:
        system, _, version = include["system"].partition("|")  # some packages write url|version here
        version = include.get("version") or version
        index = (self._code_systems(f"{system}|{version}") if version else None) or self._code_systems(system)
        if include.get("concept"):
            return _listed(system, version or None, include["concept"], index)
        filters = include.get("filter") or []
        if index is not None and index.complete:
            try:
                selected = set(index.concepts)
                for filter_ in filters:
                    selected &= select(index, filter_)
            except FilterNotSupported as problem:
                return _unlisted(system, index, f"the value set uses a filter the node cannot evaluate: {problem}")
            return _from_index(system, index, selected, keep_inactive)
        if filters:
            rule = " and ".join(f"'{describe(f)}'" for f in filters)
            return _unlisted(system, index, f"the value set selects its codes by the filter {rule}")
        unlisted = _unlisted(system, index, "the value set includes all its codes")
        if index is None or not index.concepts:
            return unlisted
        return any_of([_from_index(system, index, set(index.concepts), keep_inactive), unlisted])


def _unlisted(system: str, index: CodeSystemIndex | None, selection: str) -> Unlisted:
    syntax = external_system(system)
    if syntax is not None:
        why = f"{syntax.name} ({system}) is not available on this node"
    elif index is not None:
        why = f"the code system {index.name} ({system}) is only partly known here (content '{index.content}')"
    else:
        why = f"the code system {system} is not known to this node"
    return Unlisted(system, f"{why}, and {selection}", syntax)


def _from_index(system: str, index: CodeSystemIndex, selected: set[str], keep_inactive: bool) -> Enumerated:
    entries = (
        _entry(system, index.version, concept.code, concept.display, concept, ())
        for concept in index
        if concept.code in selected and (keep_inactive or not concept.inactive)
    )
    return Enumerated(entries, frozenset() if index.case_sensitive else frozenset({system}))


def _listed(
    system: str, version: str | None, concepts: list[dict[str, Any]], index: CodeSystemIndex | None
) -> Enumerated:
    entries = []
    for listed in concepts:
        code = listed.get("code")
        if not isinstance(code, str):
            continue
        known = index.find(code) if index is not None else None
        display = listed.get("display") or (known.display if known is not None else None)
        designations = tuple(d.get("value", "") for d in listed.get("designation") or [])
        version = version or (index.version if index is not None else None)
        entries.append(_entry(system, version, code, display, known, designations))
    insensitive = index is not None and not index.case_sensitive
    return Enumerated(entries, frozenset({system}) if insensitive else frozenset())


def _entry(
    system: str,
    version: str | None,
    code: str,
    display: str | None,
    known: Concept | None,
    designations: tuple[str, ...],
) -> Entry:
    if known is not None:
        designations += tuple(d.get("value", "") for d in known.designations)
        if known.display and known.display != display:
            designations += (known.display,)
    return Entry(
        system=system,
        code=code,
        display=display,
        version=version,
        abstract=known.abstract if known is not None else False,
        inactive=known.inactive if known is not None else False,
        other_displays=tuple(d for d in designations if d),
    )


def _expanded(contains: list[dict[str, Any]]) -> Iterator[Entry]:
    for item in contains:
        if isinstance(item.get("system"), str) and isinstance(item.get("code"), str):
            yield Entry(
                system=item["system"],
                code=item["code"],
                display=item.get("display"),
                version=item.get("version"),
                abstract=item.get("abstract") is True,
                inactive=item.get("inactive") is True,
            )
        yield from _expanded(item.get("contains") or [])
