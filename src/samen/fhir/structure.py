"""The structural checks every write gets: a known resource type, a valid id, known top-level elements,
at most 128 levels of nesting.

Full validation against StructureDefinitions and profiles is the validator's job; these checks are
the floor that keeps malformed data out of the store and the search index.
"""

from __future__ import annotations

import re
from typing import Any

from samen.fhir.model import Model
from samen.fhir.outcome import FhirError, Issue

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Levels of JSON objects and arrays a resource may nest: orjson writes at most 254, and answers wrap
# stored resources in Bundles (and those in Parameters); no real resource comes near.
MAX_NESTING = 128


def check_resource(model: Model, resource: Any, expected_type: str | None = None) -> None:
    """Raise 400 for a body that is no resource of the expected type, 422 for invalid content."""
    if not isinstance(resource, dict):
        raise FhirError(400, "The body must be a JSON object (a FHIR resource)", "structure")
    res_type = resource.get("resourceType")
    if not isinstance(res_type, str) or not res_type:
        raise FhirError(400, "The resource has no resourceType", "structure")
    if expected_type is not None and res_type != expected_type:
        raise FhirError(400, f"The body is a {res_type}, the URL asks for a {expected_type}", "invalid")
    if res_type not in model.resource_types:
        raise FhirError(400, f"Unknown resource type '{res_type}'", "not-supported")
    if nests_deeper_than(resource, MAX_NESTING):
        raise FhirError(422, f"The resource nests JSON objects and arrays more than {MAX_NESTING} levels deep, "
                        "more than this node stores", "too-costly")
    issues = _content_issues(model, resource, res_type)
    if issues:
        raise FhirError(422, issues[0].diagnostics, issues=issues)


def _content_issues(model: Model, resource: dict[str, Any], res_type: str) -> list[Issue]:
    issues: list[Issue] = []
    res_id = resource.get("id")
    if res_id is not None and (not isinstance(res_id, str) or not ID_PATTERN.fullmatch(res_id)):
        issues.append(Issue("error", "value", f"Invalid id {res_id!r}", [f"{res_type}.id"]))
    allowed = model.top_level_names[res_type]
    for name, value in resource.items():
        if name not in allowed:
            issues.append(Issue("error", "structure", f"Unknown element '{name}'", [f"{res_type}.{name}"]))
        elif value is None or value == [] or value == {}:
            issues.append(Issue("error", "value", f"Element '{name}' is empty", [f"{res_type}.{name}"]))
        elif isinstance(value, list) and not model_repeats(model, res_type, name):
            issues.append(Issue("error", "structure", f"Element '{name}' does not repeat", [f"{res_type}.{name}"]))
    meta = resource.get("meta")
    if meta is not None and not isinstance(meta, dict):
        issues.append(Issue("error", "structure", "meta must be an object", [f"{res_type}.meta"]))
    return issues


def nests_deeper_than(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether JSON objects and arrays nest more than ``limit`` levels in ``value`` (which is level 1)."""
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        container, level = pending.pop()
        if level > limit:
            return True
        for inner in container.values() if type(container) is dict else container:
            if type(inner) is dict or type(inner) is list:
                pending.append((inner, level + 1))
    return False


def model_repeats(model: Model, res_type: str, json_name: str) -> bool:
    """Whether the top-level element behind a JSON name may hold a list."""
    name = json_name.lstrip("_")
    info = model.element(res_type, name)
    if info is None:
        for candidate in model.children(res_type):
            if candidate.choice and any(n == name for n, _ in candidate.json_names()):
                return candidate.repeats
        return True
    return info.repeats
