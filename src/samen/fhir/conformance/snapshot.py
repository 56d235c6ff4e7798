"""Snapshot generation: a profile's full element list from its base's snapshot and its differential.

Packages such as the Nictiz zib/nl-core ones ship differentials only, while validation needs the
whole tree. The rules are those of http://hl7.org/fhir/R4/profiling.html#snapshot:

- start from the base snapshot (generated first when the base is itself a differential-only
  profile, so nl-core-Patient -> zib-Patient -> Patient);
- each differential element constrains the element with the same id (or path and slice name),
  merged field by field: constraints, aliases, conditions and mappings add to the inherited ones,
  a binding or slicing changes only what it states (a binding's description and extensions are
  its own), everything else replaces;
- a ``sliceName`` not yet in the base starts a new slice, a copy of the sliced element (and its
  children) with minimum 0; ``a/b`` re-slices slice ``a``; slicing an extension or a choice element
  that has no ``slicing`` yet gets the usual one (by ``url``, by type);
- a renamed choice (``Observation.valueQuantity``) narrows ``value[x]`` to Quantity and constrains
  it (its ``valueQuantity`` type slice when the base has one); ``value[x]:valueQuantity`` is a type
  slice;
- constraining a child the base snapshot does not list (``Patient.name.family``) first expands the
  element's children from its type: the type profile's snapshot when the element names one (an
  extension definition for ``Patient.extension:nationality``), else the core datatype; an element
  with a ``contentReference`` takes the children of the element it refers to.

The tree is rebuilt into a list with ids computed from the structure, so they are always consistent
and unique. An unknown base, a differential element that matches nothing and a cyclic derivation are
:class:`ConformanceError` s naming the profile's file and the element.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog

from samen.fhir.conformance.registry import Conformance, ConformanceError

Element = dict[str, Any]
_NEVER_MERGED = frozenset({"id", "path", "base"})
_ADDED_LISTS = ("alias", "condition", "mapping", "example", "extension")
_EXTENSION_SLICING = {"discriminator": [{"type": "value", "path": "url"}], "ordered": False, "rules": "open"}
_TYPE_SLICING = {"discriminator": [{"type": "type", "path": "$this"}], "ordered": False, "rules": "open"}

log = structlog.get_logger(__name__)


class _Node:
    """One element in the tree being constrained; ids and paths are derived from the tree when flattened."""

    __slots__ = ("element", "name", "slice_name", "parent", "children", "slices")

    def __init__(self, element: Element, name: str, slice_name: str | None, parent: _Node | None) -> None:
        self.element = element
        self.name = name  # the last path segment, e.g. "value[x]"
        self.slice_name = slice_name
        self.parent = parent  # the element this one is a child of (for a slice: of the sliced element)
        self.children: list[_Node] | None = None  # None: not listed yet (a datatype's children)
        self.slices: list[_Node] = []

    def child(self, name: str) -> _Node | None:
        for child in self.children or ():
            if child.name == name:
                return child
        return None

    def slice(self, name: str) -> _Node | None:
        for candidate in self.slices:
            if candidate.slice_name == name:
                return candidate
        return None

    def copy(self, parent: _Node | None) -> _Node:
        """A deep copy (element, children and slices) placed under ``parent``."""
        twin = _Node(_clone(self.element), self.name, self.slice_name, parent)
        if self.children is not None:
            twin.children = [child.copy(twin) for child in self.children]
        twin.slices = [candidate.copy(parent) for candidate in self.slices]
        return twin

    def describe(self) -> str:
        """The element id this node will get, for messages."""
        own = self.name + (f":{self.slice_name}" if self.slice_name else "")
        return f"{self.parent.describe()}.{own}" if self.parent is not None else own


class SnapshotGenerator:
    """Fills in the snapshot of differential-only StructureDefinitions of a registry, bases first."""

    def __init__(self, conformance: Conformance) -> None:
        self._conformance = conformance
        self._in_progress: list[str] = []
        self._type_trees: dict[str, _Node] = {}  # parsed once per type source, copied per use

    def generate_all(self) -> int:
        """Generate every missing snapshot of the package StructureDefinitions; returns how many."""
        pending = [sd for sd in self._conformance.local_resources("StructureDefinition") if _needs_snapshot(sd)]
        for definition in pending:
            self.ensure(definition)
        return len(pending)

    def ensure(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The StructureDefinition with its snapshot, generating it (and its bases') when missing."""
        if not _needs_snapshot(definition):
            return definition
        url = definition.get("url", "")
        if url in self._in_progress:
            cycle = " -> ".join([*self._in_progress[self._in_progress.index(url):], url])
            raise ConformanceError(self._source(url), f"cyclic derivation: {cycle}")
        self._in_progress.append(url)
        try:
            definition["snapshot"] = {"element": self._generate(definition)}
        finally:
            self._in_progress.pop()
        return definition

    # -- one profile ----------------------------------------------------------------------------

    def _generate(self, definition: dict[str, Any]) -> list[Element]:
        url = definition["url"]
        base_url = definition.get("baseDefinition")
        base = self._conformance.structure_definition(base_url) if base_url else None
        if base is None:
            raise ConformanceError(self._source(url), f"{url}: base definition {base_url!r} is unknown")
        root = _tree([_clone(element) for element in self._snapshot_of(base)], self._source(base_url))
        located: list[list[tuple[str, str | None]]] = []
        for element in definition["differential"].get("element") or ():
            if not element.get("id") and not element.get("path"):
                raise ConformanceError(self._source(url), f"{url}: a differential element has no id and no path")
            segments = _segments(element, located[-1] if located else [])
            node = self._locate(root, segments, element, url)
            _merge(node.element, element, url)
            located.append(segments)
        elements = [*_flatten(root)]
        _check_unique_ids(elements, self._source(url), url)
        return elements

    def _locate(self, root: _Node, segments: list[tuple[str, str | None]], element: Element, url: str) -> _Node:
        """The node a differential element constrains, creating slices and expanding children on the way."""
        name, _ = segments[0]
        if name != root.name:
            raise self._no_match(url, element, f"it does not start with {root.name}")
        node = root
        last = len(segments) - 1
        for position, (name, slice_name) in enumerate(segments[1:], start=1):
            self._expand(node, root, url, element)
            child = node.child(name)
            if child is None:
                child, choice_slice = _renamed_choice(node, name)
                if child is None:
                    raise self._no_match(url, element, f"{node.describe()} has no child {name!r}")
                if slice_name is None and choice_slice is not None:
                    slice_name = choice_slice
            if slice_name is not None:
                child = _slice(child, slice_name, element if position == last else None)
            node = child
        return node

    def _expand(self, node: _Node, root: _Node, url: str, element: Element) -> None:
        """List a node's children from its type (or content reference) before constraining them."""
        if node.children is not None:
            return
        reference = node.element.get("contentReference")
        if reference:
            target = _by_path(root, reference.lstrip("#"))
            if target is None:
                raise self._no_match(url, element, f"content reference {reference} of {node.describe()} is unknown")
            self._expand(target, root, url, element)
            node.children = [child.copy(node) for child in target.children or ()]
            return
        source = self._type_source(node, url, element)
        type_root = self._type_trees.get(source["url"])
        if type_root is None:
            type_root = self._type_trees[source["url"]] = _tree(self._snapshot_of(source), self._source(source["url"]))
        node.children = [child.copy(node) for child in type_root.children or ()]

    def _type_source(self, node: _Node, url: str, element: Element) -> dict[str, Any]:
        """The StructureDefinition that describes a node's children: its type profile or its datatype."""
        types = node.element.get("type") or []
        codes = {entry.get("code") for entry in types}
        if len(codes) != 1:
            raise self._no_match(
                url, element, f"{node.describe()} has {len(codes)} types, so its children are ambiguous"
            )
        profiles = types[0].get("profile") or []
        if len(profiles) == 1:
            profile = self._conformance.structure_definition(profiles[0])
            if profile is not None:
                return self.ensure(profile)
            log.warning("type profile unknown, using its datatype", profile=profiles[0], element=node.describe(),
                        file=self._source(url))
        code = types[0]["code"]
        datatype = self._conformance.type_definition(code)
        if datatype is None:
            raise self._no_match(url, element, f"the type {code} of {node.describe()} is unknown")
        return datatype

    def _snapshot_of(self, definition: dict[str, Any]) -> list[Element]:
        elements: list[Element] = (self.ensure(definition).get("snapshot") or {}).get("element") or []
        if not elements:
            url = definition.get("url", "")
            raise ConformanceError(self._source(url), f"{url} has neither a snapshot nor a differential")
        return elements

    def _no_match(self, url: str, element: Element, why: str) -> ConformanceError:
        label = element.get("id") or element.get("path")
        return ConformanceError(self._source(url), f"{url}: differential element {label} matches nothing: {why}")

    def _source(self, url: str) -> str:
        return self._conformance.source_of(url)


def generate_snapshots(conformance: Conformance) -> int:
    """Generate the missing snapshots of all package StructureDefinitions in ``conformance``."""
    return SnapshotGenerator(conformance).generate_all()


# -- building and flattening the tree ------------------------------------------------------------


def _needs_snapshot(definition: dict[str, Any]) -> bool:
    return not (definition.get("snapshot") or {}).get("element") and bool(definition.get("differential"))


def _clone(element: Element) -> Element:
    """A copy whose own fields can change; nested values are shared and never changed in place
    (every change below replaces a field), so generated snapshots share them with their bases."""
    return dict(element)


def _tree(elements: list[Element], source: str) -> _Node:
    """The tree of a snapshot: children by path depth; a sliceName makes a slice of the element before it."""
    root = _Node(elements[0], elements[0]["path"], None, None)
    open_nodes = [root]  # open_nodes[d]: the element currently open at path depth d
    for element in elements[1:]:
        names = element["path"].split(".")
        depth = len(names) - 1
        if not 0 < depth <= len(open_nodes):
            raise ConformanceError(source, f"snapshot element {element['path']} has no parent before it")
        parent = open_nodes[depth - 1]
        if parent.children is None:
            parent.children = []
        slice_name = element.get("sliceName")
        node = _Node(element, names[-1], slice_name, parent)
        if slice_name:
            _slice_owner(parent, names[-1], slice_name, element, source).slices.append(node)
        else:
            parent.children.append(node)
        del open_nodes[depth:]
        open_nodes.append(node)
    return root


def _slice_owner(parent: _Node, name: str, slice_name: str, element: Element, source: str) -> _Node:
    """The node a slice belongs to: the sliced element, or for a re-slice ``a/b`` the slice ``a``."""
    owner = parent.child(name)
    if owner is None:
        raise ConformanceError(source, f"snapshot slice {element.get('id')} has no sliced element before it")
    prefix = ""
    for part in slice_name.split("/")[:-1]:
        prefix = f"{prefix}/{part}" if prefix else part
        owner = owner.slice(prefix) or owner
    return owner


def _flatten(node: _Node, parent_id: str = "", parent_path: str = "") -> Iterator[Element]:
    """The snapshot order: an element, its children, then its slices (each with their children)."""
    path = f"{parent_path}.{node.name}" if parent_path else node.name
    own_id = node.name + (f":{node.slice_name}" if node.slice_name else "")
    element_id = f"{parent_id}.{own_id}" if parent_id else own_id
    flat = {"id": element_id, "path": path}
    flat.update(node.element)
    flat["id"], flat["path"] = element_id, path
    yield flat
    for child in node.children or ():
        yield from _flatten(child, element_id, path)
    for candidate in node.slices:
        yield from _flatten(candidate, parent_id, parent_path)


def _by_path(root: _Node, path: str) -> _Node | None:
    names = path.split(".")
    if names[0] != root.name:
        return None
    node: _Node | None = root
    for name in names[1:]:
        node = node.child(name) if node is not None else None
    return node


def _check_unique_ids(elements: list[Element], source: str, url: str) -> None:
    seen: set[str] = set()
    for element in elements:
        if element["id"] in seen:
            raise ConformanceError(source, f"{url}: element {element['id']} is defined twice")
        seen.add(element["id"])


# -- finding what a differential element constrains ----------------------------------------------


def _segments(element: Element, previous: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """(name, slice name) per path step, from the element id, or from its path and the previous element's slices."""
    element_id = element.get("id")
    if element_id:
        return [_split_step(step) for step in element_id.split(".")]
    names = element["path"].split(".")
    segments: list[tuple[str, str | None]] = []
    for position, name in enumerate(names[:-1]):
        inherited = previous[position] if position < len(previous) and previous[position][0] == name else None
        if inherited is None or segments != previous[:position]:
            inherited = (name, None)
        segments.append(inherited)
    segments.append((names[-1], element.get("sliceName")))
    return segments


def _split_step(step: str) -> tuple[str, str | None]:
    name, _, slice_name = step.partition(":")
    return name, slice_name or None


def _renamed_choice(node: _Node, name: str) -> tuple[_Node | None, str | None]:
    """``valueQuantity`` under a node with ``value[x]``: that element, narrowed to Quantity (or its
    ``valueQuantity`` slice when it has one), as the official R4 snapshots do."""
    for child in node.children or ():
        stem = child.name[:-3]
        if not child.name.endswith("[x]") or not name.startswith(stem) or len(name) == len(stem):
            continue
        type_code = _choice_type(child, name[len(stem):])
        if type_code is None:
            continue
        if child.slice(name) is not None:
            return child, name
        child.element["type"] = [entry for entry in child.element.get("type", []) if entry.get("code") == type_code]
        return child, None
    return None, None


def _choice_type(node: _Node, suffix: str) -> str | None:
    """The type of a choice element that a renamed path's suffix (``Quantity``, ``DateTime``) names."""
    for entry in node.element.get("type") or ():
        code = entry.get("code", "")
        if code[:1].upper() + code[1:] == suffix:
            return code
    return None


def _slice(entry: _Node, slice_name: str, defining: Element | None) -> _Node:
    """The slice ``slice_name`` of ``entry``, started when the differential element introduces it."""
    owner = entry
    parts = slice_name.split("/")
    for depth in range(1, len(parts)):
        owner = owner.slice("/".join(parts[:depth])) or owner
    existing = owner.slice(slice_name)
    if existing is not None:
        return existing
    if defining is None:
        log.debug("slice used before it is defined", slice=f"{entry.describe()}:{slice_name}")
    if "slicing" not in owner.element and owner is entry:
        if entry.name in ("extension", "modifierExtension"):
            owner.element["slicing"] = _EXTENSION_SLICING
        elif entry.name.endswith("[x]"):
            owner.element["slicing"] = _TYPE_SLICING
    started = owner.copy(entry.parent)
    started.slices = []
    started.slice_name = slice_name
    started.element.pop("slicing", None)
    started.element["sliceName"] = slice_name
    started.element["min"] = 0
    if entry.name.endswith("[x]"):
        type_code = _choice_type(entry, slice_name[len(entry.name) - 3:])
        if type_code is not None:
            started.element["type"] = [t for t in started.element.get("type", []) if t.get("code") == type_code]
    owner.slices.append(started)
    return started


# -- merging a differential element into its snapshot element ------------------------------------


def _merge(target: Element, constraint: Element, url: str) -> None:
    """Apply one differential element to the snapshot element it constrains (in place)."""
    for key, value in constraint.items():
        if key in _NEVER_MERGED:
            continue
        if key == "constraint":
            _merge_constraints(target, value, url)
        elif key in _ADDED_LISTS:
            present = target.get(key) or []
            target[key] = [*present, *(item for item in value if item not in present)]
        elif key == "binding":
            inherited = {k: v for k, v in (target.get(key) or {}).items() if k not in ("description", "extension")}
            target[key] = {**inherited, **value}
        elif key == "slicing":
            target[key] = {**(target.get(key) or {}), **value}
        elif key.startswith(("fixed", "pattern")):
            for stale in [k for k in target if k.startswith(("fixed", "pattern"))]:
                del target[stale]
            target[key] = value
        else:
            target[key] = value


def _merge_constraints(target: Element, constraints: list[dict[str, Any]], url: str) -> None:
    """Invariants add to the inherited ones; one with the key of an inherited invariant replaces it."""
    merged = {item.get("key"): item for item in target.get("constraint") or ()}
    for item in constraints:
        merged[item.get("key")] = {**item, "source": item.get("source", url)}
    target["constraint"] = list(merged.values())
