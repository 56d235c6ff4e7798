"""The validator: base R4 validation of a resource, then each profile it claims or is asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.outcome import Issue
from samen.fhir.validation.bindings import Bindings, CodeValidator
from samen.fhir.validation.elements import CORE_PREFIX, ElementNode, Structures
from samen.fhir.validation.extensions import Extensions
from samen.fhir.validation.primitives import PrimitiveChecks
from samen.fhir.validation.profiles import ProfileWalk
from samen.fhir.validation.slicing import SlicePlan, build_plan
from samen.fhir.validation.walker import Walk, claimed_profiles


@dataclass(frozen=True)
class ProfileChildren:
    """The children of a profile element that add checks, as the profile walk looks them up."""

    by_json: dict[str, tuple[ElementNode, str]]  # JSON name (also "_name") -> (child, FHIR type code)
    when_absent: tuple[ElementNode, ...]  # children checked even without a value


class Engine:
    """What every validation shares: the compiled definitions and the caches derived from them."""

    def __init__(self, model: Model, conformance: Conformance, terminology: CodeValidator | None,
                 report_must_support: bool) -> None:
        self.model = model
        self.conformance = conformance
        self.terminology = terminology
        self.bindings = Bindings(terminology) if terminology is not None else None
        self.report_must_support = report_must_support
        self.structures = Structures(model, conformance, report_must_support=report_must_support)
        self.primitives = PrimitiveChecks(conformance)
        self.extensions = Extensions(self)
        self._targets: dict[int, frozenset[str] | None] = {}
        self._profile_children: dict[tuple[int, str], ProfileChildren] = {}
        self._plans: dict[int, SlicePlan] = {}

    def profile_walk(self, issues: list[Issue]) -> ProfileWalk:
        return ProfileWalk(self, issues)

    def target_types(self, node: ElementNode) -> frozenset[str] | None:
        """The resource types a Reference (or Resource) element may point to; None for any."""
        key = id(node)
        if key not in self._targets:
            urls = [p for t in node.types for p in (t.target_profiles or (t.profiles if t.code == "Resource" else ()))]
            types = set()
            for url in urls:
                if url.startswith(CORE_PREFIX) and "/" not in url[len(CORE_PREFIX):]:
                    types.add(url[len(CORE_PREFIX):])
                else:
                    structure = self.structures.by_url(url)
                    types.add(structure.type if structure is not None else "Resource")
            self._targets[key] = frozenset(types) if types else None
        return self._targets[key]

    def profile_children(self, node: ElementNode, context: str) -> ProfileChildren:
        """The children of a profile element that add checks: by JSON name in ``context`` (with
        their type), and those to check even when absent (a raised minimum, must-support)."""
        key = (id(node), context)
        found = self._profile_children.get(key)
        if found is None:
            by_json: dict[str, tuple[ElementNode, str]] = {}
            when_absent = []
            for child in node.children.values():
                if not child.adds_checks:
                    continue
                info = self.model.element(context, child.name) if context else None
                if info is not None:
                    names = info.json_names()
                elif child.choice:
                    names = [(child.name + t.code[0].upper() + t.code[1:], t.code) for t in child.types]
                else:
                    names = [(child.name, child.types[0].code if child.types else "BackboneElement")]
                for json_name, type_code in names:
                    by_json[json_name] = by_json["_" + json_name] = (child, type_code)
                if child.min > child.base_min or (child.must_support and self.report_must_support) or child.slicing:
                    when_absent.append(child)
            found = self._profile_children[key] = ProfileChildren(by_json, tuple(when_absent))
        return found

    def slice_plan(self, node: ElementNode) -> SlicePlan:
        plan = self._plans.get(id(node))
        if plan is None:
            plan = self._plans[id(node)] = build_plan(self.model, self.structures, node)
        return plan


class Validator:
    """Validates resources against the R4 definitions and the profiles of a :class:`Conformance`.

    Definitions are compiled on first use and kept; one validator serves a whole node, from any
    number of threads.
    """

    def __init__(self, model: Model, conformance: Conformance, terminology: CodeValidator | None = None,
                 *, required_profiles: Mapping[str, Sequence[str]] = {}, report_must_support: bool = False) -> None:
        self._engine = Engine(model, conformance, terminology, report_must_support)
        self._required = {resource_type: tuple(urls) for resource_type, urls in required_profiles.items()}

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        """Base R4 validation of the resource type, then every profile in meta.profile, in
        required_profiles[resourceType], and in `profiles`."""
        issues: list[Issue] = []
        resource_type = resource.get("resourceType") if type(resource) is dict else None
        if type(resource_type) is not str:
            resource_type = None
        path = resource_type or "Resource"
        env = Walk(self._engine, issues).resource(resource, path)  # with the profiles it claims
        claimed = set(claimed_profiles(resource)) if env is not None else set()
        more = [url for url in dict.fromkeys([*self._required.get(resource_type, ()), *profiles]) if url not in claimed]
        if env is None:
            if more and resource_type and self._engine.structures.by_type(resource_type) is not None:
                issues.append(Issue("information", "informational", "The resource was not checked against "
                                    f"{', '.join(more)}: its structure is wrong", [path]))
            return _unique(issues)
        for url in more:
            structure = self._engine.structures.by_url(url)
            if structure is None:
                issues.append(Issue("error", "not-supported", f"The profile {url} is unknown", [path]))
            else:
                ProfileWalk(self._engine, issues).resource(resource, structure, path, env)
        return _unique(issues)


def _unique(issues: list[Issue]) -> list[Issue]:
    """The issues without repeats (a profile may restate what the base already found)."""
    seen: set[tuple[str, str, str, tuple[str, ...]]] = set()
    unique = []
    for issue in issues:
        key = (issue.severity, issue.code, issue.diagnostics, tuple(issue.expression))
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique
