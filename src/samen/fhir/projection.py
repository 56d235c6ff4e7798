"""``_summary`` and ``_elements``: returning part of a resource, marked SUBSETTED as the spec asks."""

from __future__ import annotations

from typing import Any

from samen.fhir.model import Model

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
SUMMARY_MODES = ("true", "text", "data", "count", "false")


def project(model: Model, resource: dict[str, Any], summary: str | None, elements: list[str] | None) -> dict[str, Any]:
    """The part of ``resource`` asked for; the resource itself when nothing is to be left out."""
    res_type = resource["resourceType"]
    if elements:
        keep = {"resourceType", "id", "meta"} | _json_names(model, res_type, elements)
    elif summary == "true":
        keep = model.summary_elements.get(res_type, frozenset(resource))
    elif summary == "text":
        keep = {"resourceType", "id", "meta", "text"} | _mandatory(model, res_type)
    elif summary == "data":
        keep = set(resource) - {"text"}
    else:
        return resource
    projected = {name: value for name, value in resource.items() if name in keep or name.lstrip("_") in keep}
    if len(projected) < len(resource):
        meta = dict(projected.get("meta") or {})
        meta["tag"] = [*meta.get("tag", []), SUBSETTED]
        projected["meta"] = meta
    return projected


def _json_names(model: Model, res_type: str, names: list[str]) -> set[str]:
    result: set[str] = set()
    for name in names:
        info = model.element(res_type, name)
        if info is None:
            result.add(name)
        else:
            result.update(json_name for json_name, _ in info.json_names())
    return result


def _mandatory(model: Model, res_type: str) -> set[str]:
    return {json_name for info in model.children(res_type) if info.min > 0 for json_name, _ in info.json_names()}
