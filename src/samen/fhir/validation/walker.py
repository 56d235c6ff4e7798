"""Base validation: one walk over a resource against the core StructureDefinitions of its types.

Every JSON property is looked up among its element's children by JSON name, so unknown elements,
wrong choice suffixes, arrays where one value belongs (and the reverse), nulls, empty values and
malformed primitives are found in the same pass that evaluates the invariants of the elements
present and checks codes against required and extensible bindings. Extensions are handed to
:mod:`samen.fhir.validation.extensions`, contained and bundled resources are walked as resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samen.fhir.model import PRIMITIVE_TYPES
from samen.fhir.outcome import Issue
from samen.fhir.validation.elements import NESTED_TYPES, ElementNode
from samen.fhir.validation.fhirpath import Env, Item, resource_env, resource_item
from samen.fhir.validation.primitives import json_kind
from samen.fhir.validation.references import reference_type, resolve_reference

if TYPE_CHECKING:
    from samen.fhir.validation.validator import Engine


_MISPLACED_NULL = "A null is only allowed in an array of primitives aligned with its '_' array"


class Walk:
    """The base validation of one resource (and the resources inside it); collects issues."""

    def __init__(self, engine: Engine, issues: list[Issue]) -> None:
        self.engine = engine
        self.issues = issues
        self.structures = engine.structures
        self.primitives = engine.primitives
        self.terminology = engine.terminology
        self.bindings = engine.bindings

    def issue(self, severity: str, code: str, message: str, path: str) -> None:
        self.issues.append(Issue(severity, code, message, [path]))

    # -- resources ------------------------------------------------------------------------------

    def resource(self, resource: Any, path: str, outer: Env | None = None,
                 allowed: frozenset[str] | None = None, contained: bool = False) -> Env | None:
        """Validate a resource at ``path`` (the top-level one when ``outer`` is None, else one inside
        another, ``contained`` or not) and against the profiles in its meta.profile. Returns its environment for further
        profiles, or None when it is no resource of a known type or its structure is wrong (profiles
        presume well-formed JSON)."""
        if type(resource) is not dict:
            self.issue("error", "structure", "A resource must be a JSON object", path)
            return None
        resource_type = resource.get("resourceType")
        if type(resource_type) is not str:
            self.issue("error", "structure", "The resource has no resourceType", path)
            return None
        known = resource_type in self.engine.model.resource_types
        structure = self.structures.by_type(resource_type) if known else None
        if structure is None:
            self.issue("error", "structure", f"Unknown resource type '{resource_type}'", path)
            return None
        if allowed is not None and resource_type not in allowed and "Resource" not in allowed:
            self.issue("error", "structure",
                       f"A {resource_type} is not allowed here (expected {' | '.join(sorted(allowed))})", path)
        item = resource_item(resource)
        env = resource_env(item, path, self.terminology) if outer is None else outer.inside(item, path, contained)
        first_issue = len(self.issues)
        self.object(resource, structure.root, path, env, resource_type, is_resource=True)
        if structure.root.invariants:
            self.invariants(structure.root, item, path, env)
        if not well_formed(self.issues[first_issue:]):
            if claimed_profiles(resource):
                self.issue("information", "informational", "The resource was not checked against the profiles in "
                           "its meta.profile: its structure is wrong", path)
            return None
        self.claimed_profiles(resource, path, env)
        return env

    def claimed_profiles(self, resource: dict[str, Any], path: str, env: Env) -> None:
        for position, url in enumerate(claimed_profiles(resource)):
            structure = self.structures.by_url(url)
            if structure is None:
                self.issue("warning", "not-supported", f"The profile {url} is unknown, so the resource was not checked "
                           "against it", f"{path}.meta.profile[{position}]")
            else:
                self.engine.profile_walk(self.issues).resource(resource, structure, path, env)


    # -- objects and elements ---------------------------------------------------------------------

    def object(self, value: dict[str, Any], node: ElementNode, path: str, env: Env, definition_path: str,
               is_resource: bool = False) -> None:
        """The properties of one JSON object against ``node``'s children; then the required ones.
        ``definition_path`` is where the object is defined (``Patient.name`` for a HumanName)."""
        children = node.json
        owner = (definition_path, node.model_context)
        chosen: dict[int, str] | None = None
        for key, raw in value.items():
            entry = children.get(key)
            if entry is None:
                if not (is_resource and key == "resourceType"):
                    self.unknown(key, path, node)
                continue
            child, type_code = entry
            if child.choice:
                chosen = chosen if chosen is not None else {}
                first = chosen.setdefault(id(child), key.lstrip("_"))
                if first != key.lstrip("_"):
                    self.issue("error", "structure", f"{child.path} has one value: only one of {first} and "
                               f"{key.lstrip('_')} may be present", f"{path}.{key}")
                    continue
            if key[0] == "_":
                if key[1:] not in value:
                    self.sidecar_only(raw, child, type_code, path + "." + key[1:], env, owner)
                elif raw is None:
                    self.issue("error", "structure", _MISPLACED_NULL, f"{path}.{key}")
                continue
            self.element(raw, value.get("_" + key), child, type_code, path + "." + key, env, owner)
        for child in node.required:
            if child.json_keys.isdisjoint(value):
                self.issue("error", "required",
                           f"{definition_path}.{child.name}: minimum required = {child.min}, but only found 0", path)

    def unknown(self, key: str, path: str, node: ElementNode) -> None:
        base = key.lstrip("_")
        choice = next((c for c in node.children.values() if c.choice and base.startswith(c.name)), None)
        if choice is not None and base != choice.name:
            allowed = ", ".join(sorted(name for name in choice.json_keys if not name.startswith("_")))
            self.issue("error", "structure",
                       f"The property '{key}' is not a valid choice for {choice.path} (allowed: {allowed})",
                       f"{path}.{key}")
        elif key.startswith("_") and base in node.json:
            self.issue("error", "structure",
                       f"The property '{key}' is not allowed: '{base}' is not a primitive", f"{path}.{key}")
        else:
            self.issue("error", "structure", f"Unrecognized property '{key}'", f"{path}.{key}")

    def element(self, raw: Any, sidecar: Any, child: ElementNode, type_code: str, path: str, env: Env,
                owner: tuple[str, str]) -> None:
        """One JSON property: its array shape, then each value."""
        if child.repeats:
            if type(raw) is not list:
                self.issue("error", "structure",
                           f"The property {path.rsplit('.', 1)[-1]} must be a JSON array, not a single value", path)
                self.value(raw, sidecar if type(sidecar) is dict else None, child, type_code, path, env, owner)
                return
            if not raw:
                self.issue("error", "structure",
                           "An array cannot be empty: leave the property out when there are no values", path)
                return
            if child.max is not None and len(raw) > child.max:
                self.issue("error", "structure", f"{child.path}: max allowed = {child.max}, but found {len(raw)}", path)
            sidecars = self.aligned_sidecars(sidecar, len(raw), path)
            take = self.primitive if type_code in PRIMITIVE_TYPES else self.value
            for position, item in enumerate(raw):
                take(item, sidecars[position], child, type_code, f"{path}[{position}]", env, owner)
            return
        if type(raw) is list:
            self.issue("error", "structure",
                       f"The property {path.rsplit('.', 1)[-1]} must be a single value, not an array", path)
            return
        if raw is None:  # with or without a '_' object: a primitive without a value leaves the property out
            self.issue("error", "structure", _MISPLACED_NULL, path)
            return
        if sidecar is not None and type(sidecar) is not dict:
            self.issue("error", "structure", "The primitive extension ('_' property) must be a JSON object", path)
            sidecar = None
        take = self.primitive if type_code in PRIMITIVE_TYPES else self.value
        take(raw, sidecar, child, type_code, path, env, owner)

    def aligned_sidecars(self, sidecar: Any, count: int, path: str) -> list[Any]:
        if sidecar is None:
            return [None] * count
        if type(sidecar) is not list or len(sidecar) != count:
            self.issue("error", "structure",
                       "The '_' array of a repeating primitive must have as many entries as its values", path)
            return [None] * count
        return sidecar

    def sidecar_only(self, raw: Any, child: ElementNode, type_code: str, path: str, env: Env,
                     owner: tuple[str, str]) -> None:
        """A ``_name`` property without ``name``: extensions on primitives that have no value."""
        if child.repeats:
            if type(raw) is not list or not raw:
                self.issue("error", "structure",
                           "The '_' property of a repeating primitive must be a non-empty array", path)
                return
            for position, side in enumerate(raw):
                if side is None:
                    self.issue("error", "structure",
                               "A null needs a value in the same position of the primitive's array",
                               f"{path}[{position}]")
                else:
                    self.value(None, side, child, type_code, f"{path}[{position}]", env, owner)
            return
        self.value(None, raw, child, type_code, path, env, owner)

    def value(self, raw: Any, sidecar: Any, child: ElementNode, type_code: str, path: str, env: Env,
              owner: tuple[str, str]) -> None:
        """One value of an element: a primitive (with its ``_`` object) or an object. ``owner`` is the
        definition path and type of the object holding the element (where an extension sits)."""
        if type_code in PRIMITIVE_TYPES:
            self.primitive(raw, sidecar, child, type_code, path, env, owner)
            return
        if raw is None:
            self.issue("error", "structure", _MISPLACED_NULL, path)
            return
        if type(raw) is not dict:
            self.issue("error", "structure",
                       f"The property must be a JSON object ({type_code}), not {json_kind(raw)}", path)
            return
        if not raw:
            self.issue("error", "structure", "An object must have some content", path)
            return
        if type_code == "Resource":
            self.resource(raw, path, env, self.engine.target_types(child), contained=child.name == "contained")
            return
        if len(raw) == 1 and "id" in raw:
            self.issue("error", "invariant", "ele-1: All FHIR elements must have a @value or children", path)
        item = (raw, type_code, child.model_context if type_code in NESTED_TYPES else type_code, None)
        if type_code in NESTED_TYPES or (not child.types and child.children):
            self.object(raw, child, path, env, child.path)
        else:
            type_root = self.structures.type_root(type_code)
            if type_root is None:
                self.issue("error", "structure", f"Unknown type {type_code}", path)
                return
            self.object(raw, type_root, path, env, child.path)
            if type_root.invariants:
                self.invariants(type_root, item, path, env)
            if type_code == "Reference":
                self.reference(raw, child, path, env)
            elif type_code == "Extension":
                self.engine.extensions.check(self, raw, child.name == "modifierExtension", owner, path, env)
            profiles = child.type_profiles.get(type_code)  # SimpleQuantity, MoneyQuantity in the core
            if profiles:
                self.engine.profile_walk(self.issues).type_profiles(raw, None, profiles, type_code, path, env)
        if child.invariants:
            self.invariants(child, item, path, env)
        if child.checked_binding is not None and self.bindings is not None:
            self.binding(child, raw, type_code, path)

    def primitive(self, raw: Any, sidecar: Any, child: ElementNode, type_code: str, path: str, env: Env,
                  owner: tuple[str, str]) -> None:
        """A primitive value and its ``_`` object (``owner`` as for :meth:`value`, unused here)."""
        if sidecar is not None:
            if type(sidecar) is not dict:
                self.issue("error", "structure", "The primitive extension ('_' property) must be a JSON object", path)
            elif not sidecar:
                self.issue("error", "structure", "An object must have some content", path)
            else:
                self.object(sidecar, self.structures.type_root(type_code), path, env, child.path)
                if raw is None and not sidecar.get("extension"):
                    self.issue("error", "invariant", "ele-1: All FHIR elements must have a @value or children", path)
        if raw is None:
            if sidecar is None:
                self.issue("error", "structure", _MISPLACED_NULL, path)
            return
        problem = self.primitives.for_type(type_code)(raw)
        if problem is not None:
            severity, message = problem
            self.issue(severity, "structure" if message.startswith("Error parsing JSON") else "value", message, path)
            if severity == "error":
                return
        if child.invariants:
            self.invariants(child, (raw, type_code, type_code, sidecar), path, env)
        if child.checked_binding is not None and self.bindings is not None:
            self.binding(child, raw, type_code, path)

    # -- checks -----------------------------------------------------------------------------------

    def invariants(self, node: ElementNode, item: Item, path: str, env: Env) -> None:
        value = item[0]
        for invariant in node.invariants:
            if invariant.applies(value) and invariant.check(item, env) is False:
                self.issue(invariant.severity, "invariant", f"{invariant.key}: {invariant.human}", path)

    def binding(self, node: ElementNode, value: Any, type_code: str, path: str) -> None:
        binding = node.binding
        problem = self.bindings.problem(binding.strength, binding.value_set, value, type_code)
        if problem is not None:
            severity, message = problem
            self.issue(severity, "code-invalid" if severity != "information" else "informational", message, path)

    def reference(self, value: dict[str, Any], child: ElementNode, path: str, env: Env) -> None:
        """The format of Reference.reference, and the target's type when the reference names it."""
        reference = value.get("reference")
        if type(reference) is not str or not reference:
            return
        target_type = reference_type(reference)
        if target_type is False:
            self.issue("error", "value", f"Invalid reference '{reference}': expected Type/id, an absolute URL, "
                       "#id of a contained resource, urn:uuid: or urn:oid:", path + ".reference")
            return
        if target_type is None and reference.startswith("#"):
            target = resolve_reference(reference, env)
            target_type = target.get("resourceType") if target is not None else None
            target_type = target_type if type(target_type) is str else None  # else: reported at the target
        if target_type and target_type not in self.engine.model.resource_types:
            self.issue("error", "value",
                       f"Invalid reference '{reference}': unknown resource type '{target_type}'", path + ".reference")
            return
        allowed = self.engine.target_types(child)
        if target_type and allowed is not None and target_type not in allowed and "Resource" not in allowed:
            self.issue("error", "structure", f"The reference points to a {target_type}, but {child.path} "
                       f"may only point to {' | '.join(sorted(allowed))}", path + ".reference")


def well_formed(issues: list[Issue]) -> bool:
    """Whether a resource's base issues leave its JSON shapes as the definitions say, which profile
    validation presumes (a format error in a value does not count)."""
    return not any(issue.code == "structure" and issue.severity == "error" for issue in issues)


def claimed_profiles(resource: dict[str, Any]) -> list[str]:
    """The profile URLs in a resource's meta.profile."""
    meta = resource.get("meta")
    claimed = meta.get("profile") if type(meta) is dict else None
    return [url for url in claimed if type(url) is str] if type(claimed) is list else []
