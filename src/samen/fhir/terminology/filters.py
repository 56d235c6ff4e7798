"""ValueSet ``compose.include.filter`` evaluated on a code system whose content is complete.

The R4 filter operators (http://hl7.org/fhir/R4/valueset-filter-operator.html): ``=``, ``is-a``,
``descendent-of``, ``is-not-a``, ``regex``, ``in``, ``not-in``, ``generalizes``, ``exists``. The
hierarchy operators apply to the property ``concept`` (``code`` is accepted as a synonym); ``=``,
``in``, ``not-in``, ``regex`` and ``exists`` also apply to ``display``, ``parent``, ``child`` and
any property the code system defines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from samen.fhir.terminology.codesystems import CodeSystemIndex, Concept

HIERARCHY_OPERATORS = frozenset({"is-a", "descendent-of", "is-not-a", "generalizes"})
CONCEPT_PROPERTIES = frozenset({"concept", "code"})


class FilterNotSupported(Exception):
    """A filter this node cannot evaluate; the message says which and why."""


def describe(filter_: dict[str, Any]) -> str:
    """``concept is-a 12345``: a filter as a person reads it."""
    return f"{filter_.get('property')} {filter_.get('op')} {filter_.get('value')}"


def select(index: CodeSystemIndex, filter_: dict[str, Any]) -> set[str]:
    """The codes of ``index`` that pass ``filter_``."""
    prop, op, value = filter_.get("property"), filter_.get("op"), filter_.get("value")
    if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
        raise FilterNotSupported(f"the filter '{describe(filter_)}' needs a property, an op and a value")
    if op in HIERARCHY_OPERATORS:
        if prop not in CONCEPT_PROPERTIES:
            raise FilterNotSupported(f"'{op}' applies to the property 'concept', not '{prop}'")
        return _hierarchy(index, op, value)
    values = _values_of(index, prop)
    match op:
        case "=":
            return {c.code for c in index if value in values(c)}
        case "in" | "not-in":
            wanted = {part.strip() for part in value.split(",")}
            chosen = {c.code for c in index if wanted & set(values(c))}
            return chosen if op == "in" else set(index.concepts) - chosen
        case "regex":
            try:
                pattern = re.compile(value)
            except re.error as error:
                raise FilterNotSupported(f"the regex '{value}' is not valid: {error}") from error
            return {c.code for c in index if any(pattern.fullmatch(v) for v in values(c))}
        case "exists":
            wanted_exists = value.lower() == "true"
            return {c.code for c in index if bool(values(c)) == wanted_exists}
    raise FilterNotSupported(f"the filter operator '{op}' is not supported")


def _hierarchy(index: CodeSystemIndex, op: str, code: str) -> set[str]:
    concept = index.find(code)
    if concept is None:
        return set(index.concepts) if op == "is-not-a" else set()
    code = concept.code
    match op:
        case "is-a":
            return index.descendants(code) | {code}
        case "descendent-of":
            return index.descendants(code)
        case "is-not-a":
            return set(index.concepts) - index.descendants(code) - {code}
    return index.ancestors(code) | {code}  # generalizes


def _values_of(index: CodeSystemIndex, prop: str) -> Callable[[Concept], list[str]]:
    """How to read the values of ``prop`` from a concept, as strings to compare with a filter value."""
    if prop in CONCEPT_PROPERTIES:
        return lambda concept: [concept.code]
    if prop == "display":
        return lambda concept: [concept.display] if concept.display else []
    if prop == "parent":
        return lambda concept: list(index.parents.get(concept.code, ()))
    if prop == "child":
        return lambda concept: list(index.children.get(concept.code, ()))
    declared = {p.get("code") for p in index.resource.get("property") or []}
    if prop not in declared:
        raise FilterNotSupported(f"the code system {index.url} defines no property '{prop}'")
    return lambda concept: [_as_text(v) for v in concept.property_values(prop)]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # valueCoding
        return str(value.get("code", ""))
    return str(value)

