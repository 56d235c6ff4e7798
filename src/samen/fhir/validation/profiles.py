"""Profile validation: an instance against what a profile adds to the base definitions.

The base walk has already checked structure, primitives and the core invariants, so this walk only
visits the elements where the profile (or something below them) adds a check: tighter cardinality,
narrowed types, fixed and pattern values, stronger bindings, the profile's own invariants, slicing,
and profiles on types (``HumanName`` as nl-core-NameInformation) and on reference targets.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from samen.fhir.outcome import Issue
from samen.fhir.validation.elements import NESTED_TYPES, ElementNode, Structure
from samen.fhir.validation.fhirpath import Env, resource_item, resource_type_of
from samen.fhir.validation.references import locate_reference
from samen.fhir.validation.slicing import apply_slicing
from samen.fhir.validation.values import equals_fixed, matches_pattern, outside_range, shown

if TYPE_CHECKING:
    from samen.fhir.validation.validator import Engine

Entry = tuple[Any, Any, str, str]  # (JSON value, its "_" sidecar, FHIR type code, instance path)


class ProfileWalk:
    """Validates values against profile elements; collects issues into ``issues``."""

    def __init__(self, engine: Engine, issues: list[Issue], visiting: set[tuple[int, str]] | None = None) -> None:
        self.engine = engine
        self.issues = issues
        self.visiting = visiting if visiting is not None else set()  # (resource, profile) pairs being validated

    def issue(self, severity: str, code: str, message: str, path: str) -> None:
        self.issues.append(Issue(severity, code, message, [path]))

    def scratch(self) -> ProfileWalk:
        """A walk whose issues are collected apart (to try a value against a slice or profile)."""
        return ProfileWalk(self.engine, [], self.visiting)

    def resource(self, resource: dict[str, Any], structure: Structure, path: str, env: Env) -> None:
        resource_type = resource.get("resourceType")
        if resource_type != structure.type:
            self.issue("error", "structure",
                       f"The profile {structure.url} is for a {structure.type}, not a {resource_type}", path)
            return
        if not structure.is_profile:
            return  # the core definition of the resource's own type: the base validation applied it
        key = (id(resource), structure.url)
        if key in self.visiting:
            return  # resources that reference each other: each is validated against a profile once per chain
        self.visiting.add(key)
        item = resource_item(resource)
        inner = replace(env, resource=item, context=item, this=None, index=0, resource_path=path)
        try:
            self.value(resource, None, structure.root, resource_type, path, inner, structure.url)
        finally:
            self.visiting.discard(key)

    # -- one value against one element ------------------------------------------------------------

    def value(self, value: Any, sidecar: Any, node: ElementNode, type_code: str, path: str, env: Env, url: str) -> None:
        if node.allowed_types is not None and type_code not in node.allowed_types:
            allowed = ", ".join(t.code for t in node.types)
            self.issue("error", "structure", f"{node.describe()}: the type {type_code} is not allowed by the profile "
                       f"{url} (allowed: {allowed})", path)
            return
        if node.fixed is not None and not equals_fixed(node.fixed, value):
            self.issue("error", "value", f"{node.describe()}: the value must be {shown(node.fixed)}, "
                       f"but is {shown(value)} (profile {url})", path)
        if node.pattern is not None and not matches_pattern(node.pattern, value):
            self.issue("error", "value", f"{node.describe()}: the value must match the pattern {shown(node.pattern)}, "
                       f"but is {shown(value)} (profile {url})", path)
        if node.min_value is not None or node.max_value is not None:
            reason = outside_range(value, node.min_value, node.max_value)
            if reason is not None:
                self.issue("error", "value",
                           f"{node.describe()}: the value {shown(value)} is {reason} (profile {url})", path)
        if node.max_length is not None and type(value) is str and len(value) > node.max_length:
            self.issue("error", "value",
                       f"{node.describe()}: the value is longer than {node.max_length} characters", path)
        binding = node.binding
        if (binding is not None and binding != node.base_binding and binding.strength in ("required", "extensible")
                and self.engine.bindings is not None and value is not None):
            problem = self.engine.bindings.problem(binding.strength, binding.value_set, value, type_code)
            if problem is not None:
                severity, message = problem
                self.issue(severity, "code-invalid" if severity != "information" else "informational", message, path)
        if node.invariants and value is not None:
            context = node.model_context if type_code in NESTED_TYPES else type_code
            item = (value, type_code, context, sidecar)
            for invariant in node.invariants:
                if invariant.applies(value) and invariant.check(item, env) is False:
                    self.issue(invariant.severity, "invariant", f"{invariant.key}: {invariant.human} (profile {url})",
                               path)
        for type_ref in () if node.restated_types else node.types:
            if type_ref.code == type_code:
                if type_ref.profiles:
                    self.type_profiles(value, sidecar, type_ref.profiles, type_code, path, env)
                if type_ref.target_profiles and type(value) is dict:
                    self.target(value, type_ref.target_profiles, node, path, env)
        if type(sidecar) is dict and node.children:  # a primitive's extensions (the slices of _gender.extension)
            self.object(sidecar, node, type_code, path, env, url)
        if type(value) is dict and node.children:
            if type_code in NESTED_TYPES:
                context = node.model_context
            elif type_code == "Resource":
                context = resource_type_of(value)
            else:
                context = type_code
            self.object(value, node, context, path, env, url)

    def object(self, value: dict[str, Any], node: ElementNode, context: str, path: str, env: Env, url: str) -> None:
        """The children of one JSON object that the profile adds checks to."""
        children = self.engine.profile_children(node, context)
        by_json = children.by_json
        grouped: dict[int, tuple[ElementNode, list[Entry]]] = {}
        for key, raw in value.items():
            hit = by_json.get(key)
            if hit is None:
                continue
            child, type_code = hit
            if key[0] == "_":
                if key[1:] in value:
                    continue  # taken with its value
                json_name, raw, sidecar = key[1:], None, raw
            else:
                json_name, sidecar = key, value.get("_" + key)
            entries = grouped.setdefault(id(child), (child, []))[1]
            _collect(entries, raw, sidecar, type_code, f"{path}.{json_name}")
        for child, entries in grouped.values():
            self.element(entries, child, path, env, url)
        for child in children.when_absent:
            if id(child) not in grouped:
                self.element([], child, path, env, url)

    def element(self, entries: list[Entry], node: ElementNode, parent_path: str, env: Env, url: str) -> None:
        """All values of one element (or one slice): cardinality, slicing, then each value."""
        count = len(entries)
        if count < node.min and node.min > node.base_min:
            self.issue("error", "required", f"{node.describe()}: minimum required = {node.min}, but only found {count} "
                       f"(profile {url})", parent_path)
        if node.max is not None and count > node.max and (node.base_max is None or node.max < node.base_max):
            self.issue("error", "structure", f"{node.describe()}: max allowed = {node.max}, but found {count} "
                       f"(profile {url})", entries[node.max][3] if node.max < count else parent_path)
        if not count and node.must_support and self.engine.report_must_support:
            self.issue("information", "informational", f"{node.describe()} is must-support in the profile {url}, "
                       "but has no value", parent_path)
        if node.slicing is not None and node.slices:
            apply_slicing(self, entries, node, parent_path, env, url)
        for value, sidecar, type_code, path in entries:
            self.value(value, sidecar, node, type_code, path, env, url)

    # -- profiles on types and reference targets --------------------------------------------------

    def type_profiles(self, value: Any, sidecar: Any, profiles: tuple[str, ...], type_code: str, path: str,
                      env: Env) -> None:
        """The value must conform to one of the profiles (an extension is already checked against its url)."""
        if type_code == "Extension" and type(value) is dict and value.get("url") in profiles:
            return
        failures: list[list[Issue]] = []
        for profile_url in profiles:
            structure = self.engine.structures.by_url(profile_url)
            if structure is None:
                self.issue("warning", "not-supported",
                           f"The profile {profile_url} is not known, so {path} is not checked against it", path)
                return
            if not structure.is_profile:
                return  # the core type itself: the base walk checked it
            issues = self.conforms(value, sidecar, structure, type_code, path, env)
            if not any(issue.severity == "error" for issue in issues):
                self.issues.extend(issues)
                return
            failures.append(issues)
        if failures:
            self.issues.extend(failures[0])

    def conforms(self, value: Any, sidecar: Any, structure: Structure, type_code: str, path: str,
                 env: Env) -> list[Issue]:
        """The issues of one value against one profile, collected apart."""
        walk = self.scratch()
        if type_code == "Resource" or structure.kind == "resource":
            if type(value) is dict:
                walk.resource(value, structure, path, env)
        else:
            walk.value(value, sidecar, structure.root, type_code, path, env, structure.url)
        return walk.issues

    def target(self, reference: dict[str, Any], target_profiles: tuple[str, ...], node: ElementNode, path: str,
               env: Env) -> None:
        """A reference to a contained or bundled resource: the target conforms to one target profile."""
        literal = reference.get("reference")
        if type(literal) is not str:
            return
        located = locate_reference(literal, env)
        if located is None:
            return
        target, target_path = located
        profiles = [p for p in target_profiles if (s := self.engine.structures.by_url(p)) is not None and s.is_profile]
        if profiles:
            self.type_profiles(target, None, tuple(profiles), "Resource", target_path, env)


def _collect(entries: list[Entry], raw: Any, sidecar: Any, type_code: str, path: str) -> None:
    if type(raw) is list:
        sidecars = sidecar if type(sidecar) is list and len(sidecar) == len(raw) else [None] * len(raw)
        for position, value in enumerate(raw):
            entries.append((value, sidecars[position], type_code, f"{path}[{position}]"))
    elif raw is None and type(sidecar) is list:
        for position, side in enumerate(sidecar):
            entries.append((None, side, type_code, f"{path}[{position}]"))
    else:
        entries.append((raw, sidecar if type(sidecar) is dict else None, type_code, path))
