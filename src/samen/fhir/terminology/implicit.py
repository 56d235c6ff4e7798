"""Implicit value sets: canonical URLs that stand for a value set without a ValueSet resource.

SNOMED CT defines ``http://snomed.info/sct?fhir_vs`` (all concepts), ``?fhir_vs=isa/[sctid]`` and
``?fhir_vs=refset/[sctid]``; LOINC defines ``http://loinc.org/vs`` (all codes)
(http://hl7.org/fhir/R4/snomedct.html#implicit, http://hl7.org/fhir/R4/loinc.html#implicit). They
become ordinary compose definitions, so they are answered like any other value set.
"""

from __future__ import annotations

from typing import Any

from samen.fhir.terminology.external import LOINC, SNOMED

_SNOMED_FILTERS = {"isa": "is-a", "refset": "in"}


def implicit_value_set(url: str) -> dict[str, Any] | None:
    """The ValueSet an implicit URL stands for, or None when ``url`` is not one."""
    if url == f"{LOINC}/vs":
        return _value_set(url, {"system": LOINC})
    if not url.startswith(f"{SNOMED}?fhir_vs"):
        return None
    query = url[len(f"{SNOMED}?fhir_vs") :]
    if not query:
        return _value_set(url, {"system": SNOMED})
    kind, _, concept = query.removeprefix("=").partition("/")
    if kind not in _SNOMED_FILTERS or not concept:
        return None
    return _value_set(
        url, {"system": SNOMED, "filter": [{"property": "concept", "op": _SNOMED_FILTERS[kind], "value": concept}]}
    )


def _value_set(url: str, include: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [include]}}
