"""Slicing: which slice each value of a sliced element belongs to, then the slicing rules.

For each slice and discriminator the expected value is read from the slice's definition once
(a fixed or pattern value, the allowed types or profiles, whether the element must exist) and kept
in a plan per sliced element. A value belongs to the first slice whose every discriminator matches.
When a slice's definition gives nothing to compare with, the value belongs to it if it validates
against the slice without errors (what the HL7 validator does too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from samen.fhir.validation.elements import NESTED_TYPES, ElementNode, Structures
from samen.fhir.validation.fhirpath import Env, Evaluate, Item, Unsupported, compile_expression, item_of
from samen.fhir.validation.values import equals_fixed, matches_pattern

if TYPE_CHECKING:
    from samen.fhir.model import Model
    from samen.fhir.validation.profiles import Entry, ProfileWalk

# (values at the discriminator path, the entry, the walk, the environment) -> whether the discriminator matches
Test = Callable[[list[Item], "Entry", "ProfileWalk", Env], bool]


@dataclass(frozen=True)
class SlicePlan:
    paths: tuple[Evaluate | None, ...]  # per discriminator, its compiled path (None: $this)
    slices: tuple[tuple[ElementNode, tuple[tuple[int, Test], ...]], ...]


def build_plan(model: Model, structures: Structures, node: ElementNode) -> SlicePlan:
    slicing = node.slicing
    assert slicing is not None
    paths: list[Evaluate | None] = []
    readable: list[bool] = []  # whether the node can evaluate the discriminator's path
    for discriminator in slicing.discriminators:
        try:
            paths.append(None if discriminator.path == "$this" else compile_expression(model, discriminator.path))
            readable.append(True)
        except Unsupported:
            paths.append(None)
            readable.append(False)
    slices = []
    for slice_node in node.slices:
        tests = []
        for index, discriminator in enumerate(slicing.discriminators):
            test = _test(structures, slice_node, discriminator.type, discriminator.path) if readable[index] else None
            tests.append((index, test if test is not None else _validates_against(slice_node)))
        if not tests:  # no discriminators: the slice is recognised by validating against it
            paths = [None]
            tests.append((0, _validates_against(slice_node)))
        slices.append((slice_node, tuple(tests)))
    return SlicePlan(tuple(paths), tuple(slices))


def apply_slicing(walk: ProfileWalk, entries: list[Entry], node: ElementNode, parent_path: str, env: Env,
                  url: str) -> None:
    """Assign the entries to slices, check closed/openAtEnd/ordered, then each slice's values."""
    plan = walk.engine.slice_plan(node)
    slicing = node.slicing
    assert slicing is not None
    per_slice: list[list[Entry]] = [[] for _ in plan.slices]
    order: list[int | None] = []
    for entry in entries:
        value, sidecar, type_code, path = entry
        context = node.model_context if type_code in NESTED_TYPES else type_code
        item = item_of(value, type_code, context, sidecar)
        at_path: dict[int, list[Item]] = {}
        match = None
        for slice_index, (_slice_node, tests) in enumerate(plan.slices):
            for index, test in tests:
                if index not in at_path:
                    at_path[index] = _values_at(plan.paths[index], item, env)
                if not test(at_path[index], entry, walk, env):
                    break
            else:
                match = slice_index
                break
        order.append(match)
        if match is None:
            if slicing.rules == "closed":
                walk.issue("error", "structure",
                           f"{node.path}: the value does not match any slice of the profile {url}, "
                           "and the slicing is closed", path)
        else:
            per_slice[match].append(entry)
    matched = [index for index in order if index is not None]
    if slicing.rules == "openAtEnd" and None in order:
        first_open = order.index(None)
        if any(index is not None for index in order[first_open:]):
            walk.issue("error", "structure",
                       f"{node.path}: values that match no slice must come after all sliced values "
                       "(openAtEnd)", entries[first_open][3])
    if slicing.ordered and matched != sorted(matched):
        walk.issue("error", "structure",
                   f"{node.path}: the slices are ordered, but the values are not in slice order", parent_path)
    for slice_index, (slice_node, _tests) in enumerate(plan.slices):
        walk.element(per_slice[slice_index], slice_node, parent_path, env, url)


def _values_at(path: Evaluate | None, item: Item, env: Env) -> list[Item]:
    if path is None:
        return [item]
    saved = env.context
    env.context = item
    try:
        return path([item], env)
    except ValueError:
        return []
    finally:
        env.context = saved


# -- the expected side, read from the slice's definition ---------------------------------------


def _test(structures: Structures, slice_node: ElementNode, kind: str, path: str) -> Test | None:
    resolves = path == "resolve()" or path.endswith(".resolve()")
    prefix = path.removesuffix("resolve()").removesuffix(".") if resolves else path
    nodes = nodes_at(structures, slice_node, prefix)
    if kind in ("value", "pattern"):
        return _value_test(slice_node, nodes, path)
    if kind == "exists":
        if any(n.min >= 1 for n in nodes):
            return lambda values, entry, walk, env: bool(values)
        if nodes and all(n.max == 0 for n in nodes):
            return lambda values, entry, walk, env: not values
        return None
    if kind == "type":
        if resolves:
            types = {s.type for n in nodes for t in n.types for p in t.target_profiles if (s := structures.by_url(p))}
        else:
            types = {t.code for n in nodes for t in n.types}
        if not types:
            return None
        return lambda values, entry, walk, env: any(v[1] in types for v in values)
    if kind == "profile":
        profiles = tuple({p for n in nodes for t in n.types for p in (t.target_profiles if resolves else t.profiles)})
        if not profiles:
            return None
        return _profile_test(structures, profiles, resolves)
    return None


def _value_test(slice_node: ElementNode, nodes: list[ElementNode], path: str) -> Test | None:
    expected = [(n.fixed, True) for n in nodes if n.fixed is not None]
    expected += [(n.pattern, False) for n in nodes if n.pattern is not None]
    if not expected and path == "url":
        expected = [(p, True) for t in slice_node.types if t.code == "Extension" for p in t.profiles]
    if expected:
        def matches(values: list[Item], entry: Entry, walk: ProfileWalk, env: Env) -> bool:
            return any(
                equals_fixed(want, v[0]) if exact else matches_pattern(want, v[0])
                for v in values
                for want, exact in expected
            )

        return matches
    bound = next((n for n in nodes if n.binding is not None and n.binding.strength == "required"), None)
    if bound is None:
        return None
    value_set = bound.binding.value_set  # type: ignore[union-attr]
    undecided = _validates_against(slice_node)

    def in_value_set(values: list[Item], entry: Entry, walk: ProfileWalk, env: Env) -> bool:
        """A code from the slice's required value set; without a terminology answer, the value
        belongs to the slice when it validates against it."""
        bindings = walk.engine.bindings
        if bindings is None:
            return undecided(values, entry, walk, env)
        problems = [bindings.problem("required", value_set, v[0], v[1]) for v in values]
        # a warning is a valid code with another display
        if any(problem is None or problem[0] == "warning" for problem in problems):
            return True
        if problems and all(problem[0] == "error" for problem in problems if problem is not None):
            return False
        return undecided(values, entry, walk, env)

    return in_value_set


def _profile_test(structures: Structures, profiles: tuple[str, ...], resolves: bool) -> Test:
    def conforms_to_one(values: list[Item], entry: Entry, walk: ProfileWalk, env: Env) -> bool:
        for value in values:
            for url in profiles:
                structure = structures.by_url(url)
                if structure is None:
                    continue
                type_code = "Resource" if resolves else value[1]
                issues = walk.conforms(value[0], value[3], structure, type_code, entry[3], env)
                if not any(issue.severity == "error" for issue in issues):
                    return True
        return False

    return conforms_to_one


def _validates_against(slice_node: ElementNode) -> Test:
    def validates(values: list[Item], entry: Entry, walk: ProfileWalk, env: Env) -> bool:
        scratch = walk.scratch()
        value, sidecar, type_code, path = entry
        scratch.value(value, sidecar, slice_node, type_code, path, env, "")
        return not any(issue.severity == "error" for issue in scratch.issues)

    return validates


def nodes_at(structures: Structures, node: ElementNode, path: str) -> list[ElementNode]:
    """The element definitions a discriminator path reaches from a slice, through unrolled children,
    the slices of intermediate elements and the profiles on their types."""
    current = [node]
    for segment in _segments(path):
        if segment == "$this":
            continue
        if segment.startswith("ofType("):
            wanted = segment[7:-1]
            current = [n for n in current if not n.types or wanted in n.type_codes]
            continue
        url = None
        name = segment
        if segment.startswith("extension("):
            name, url = "extension", segment[10:-1].strip("'\"")
        following: list[ElementNode] = []
        for candidate in current:
            child = _child(structures, candidate, name)
            if child is None:
                continue
            if url is not None:
                following.extend(s for s in child.slices if extension_url(s) == url)
            else:
                following.extend(_with_slices(child))
        current = following
    return current


def extension_url(slice_node: ElementNode) -> str | None:
    """The url an extension slice stands for: its fixed url, or the profile of its type."""
    url_node = slice_node.children.get("url")
    if url_node is not None and url_node.fixed is not None:
        return url_node.fixed
    for type_ref in slice_node.types:
        if type_ref.profiles:
            return type_ref.profiles[0]
    return None


def _child(structures: Structures, node: ElementNode, name: str) -> ElementNode | None:
    child = node.children.get(name)
    if child is not None:
        return child
    for type_ref in node.types:
        for profile in type_ref.profiles:
            structure = structures.by_url(profile)
            if structure is not None and name in structure.root.children:
                return structure.root.children[name]
    return None


def _with_slices(node: ElementNode) -> list[ElementNode]:
    found = [node]
    for slice_node in node.slices:
        found.extend(_with_slices(slice_node))
    return found


def _segments(path: str) -> list[str]:
    """Split a discriminator path on dots outside parentheses and quotes."""
    segments, depth, quote, start = [], 0, False, 0
    for position, char in enumerate(path):
        if char == "'":
            quote = not quote
        elif not quote and char == "(":
            depth += 1
        elif not quote and char == ")":
            depth -= 1
        elif not quote and depth == 0 and char == ".":
            segments.append(path[start:position])
            start = position + 1
    segments.append(path[start:])
    return [s for s in segments if s]
