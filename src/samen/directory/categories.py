"""The data categories of the localization index (the IG's ``nl-gf-data-categories-cs``), as data.

A custodian registers at the index "I hold data of category C for this person"; this module says which
category a resource of its own belongs to. The concepts and their ``fhir-resourcetype-params`` property
(the resource type, optionally narrowed by one search parameter such as
``Observation?category=...|laboratory``) are in ``data/data_categories.json``, taken from the IG's FSH
source (the file names the commit). A narrowed mapping wins over the bare resource type, so a laboratory
Observation is ``ObservationLaboratory`` and any other Observation ``ObservationActivity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import orjson

SYSTEM = "http://minvws.github.io/generiekefuncties-docs/CodeSystem/nl-gf-data-categories-cs"


@dataclass(frozen=True)
class Category:
    """One concept: its code, displays (Dutch and English) and the FHIR queries that select its data."""

    code: str
    display: str
    display_nl: str
    display_en: str
    queries: tuple[str, ...]

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(query.split("?", 1)[0] for query in self.queries)


@dataclass(frozen=True)
class _Selector:
    """``Type?param=system|code``: the element ``param`` of ``Type`` must hold that coding."""

    category: str
    res_type: str
    element: str
    system: str
    code: str

    def matches(self, resource: dict[str, Any]) -> bool:
        values = resource.get(self.element)
        for concept in values if isinstance(values, list) else [values]:
            if not isinstance(concept, dict):
                continue
            for coding in concept.get("coding") or ():
                if isinstance(coding, dict) and coding.get("system") == self.system and coding.get("code") == self.code:
                    return True
        return False


@cache
def categories() -> tuple[Category, ...]:
    """Every concept of the code system, in the IG's order."""
    data = orjson.loads(resources.files("samen.directory").joinpath("data/data_categories.json").read_bytes())
    return tuple(
        Category(c["code"], c["display"], c["display_nl"], c["display_en"], tuple(c["queries"]))
        for c in data["concepts"]
    )


@cache
def codes() -> frozenset[str]:
    return frozenset(category.code for category in categories())


def category(code: str) -> Category | None:
    """The concept with this code, or None."""
    return _by_code().get(code)


@cache
def _by_code() -> dict[str, Category]:
    return {c.code: c for c in categories()}


@cache
def _mapping() -> tuple[dict[str, list[_Selector]], dict[str, str]]:
    """Per resource type: the narrowed selectors (checked first) and the plain category."""
    narrowed: dict[str, list[_Selector]] = {}
    plain: dict[str, str] = {}
    for concept in categories():
        for query in concept.queries:
            res_type, _, params = query.partition("?")
            if not params:
                plain.setdefault(res_type, concept.code)
                continue
            name, _, value = params.partition("=")
            system, _, code = value.rpartition("|")
            narrowed.setdefault(res_type, []).append(_Selector(concept.code, res_type, name, system, code))
    return narrowed, plain


def category_of(resource: dict[str, Any]) -> str | None:
    """The category code a resource is registered under at the index, or None when it maps to none.

    The IG's search parameters in this code system (``category``) are elements of the same name.
    """
    res_type = resource.get("resourceType")
    if not isinstance(res_type, str):
        return None
    narrowed, plain = _mapping()
    for selector in narrowed.get(res_type, ()):
        if selector.matches(resource):
            return selector.category
    return plain.get(res_type)
