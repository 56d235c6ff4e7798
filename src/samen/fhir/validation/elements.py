"""StructureDefinition snapshots compiled into trees of small element nodes, once per URL.

A node holds what the walker needs at one element, ready to use: cardinality as integers, type codes,
fixed and pattern values, the binding, the compiled invariants, the slicing with its slices, and the
children both by element name and by every JSON property name they can appear under
(``valueQuantity``, ``_birthDate``).

A profile's node also knows how it differs from the base definition of its element
(``base.path`` in the snapshot): only what a profile adds is checked again, the base validation of
the resource type has done the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import structlog

from samen.fhir.conformance import Conformance
from samen.fhir.model import PRIMITIVE_TYPES, Model
from samen.fhir.validation.invariants import Invariant, compile_invariant

log = structlog.get_logger(__name__)

CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
_SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."
_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
NESTED_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str  # required | extensible | preferred | example
    value_set: str


@dataclass(frozen=True, slots=True)
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    ordered: bool
    rules: str  # closed | open | openAtEnd


@dataclass(eq=False)
class ElementNode:
    """One element definition of a compiled StructureDefinition."""

    id: str
    path: str
    name: str  # the last path segment without "[x]"
    choice: bool
    min: int
    max: int | None  # None: unbounded
    types: tuple[TypeRef, ...]
    model_context: str  # where the model describes this element's children (type name or backbone path)
    slice_name: str | None = None
    fixed: Any = None
    pattern: Any = None
    binding: Binding | None = None
    invariants: tuple[Invariant, ...] = ()
    must_support: bool = False
    is_modifier: bool = False
    max_length: int | None = None
    min_value: Any = None  # minValue[x], maxValue[x]: a number, date or Quantity
    max_value: Any = None
    slicing: Slicing | None = None
    slices: list[ElementNode] = field(default_factory=list)
    children: dict[str, ElementNode] = field(default_factory=dict)
    json: dict[str, tuple[ElementNode, str]] = field(default_factory=dict)  # JSON name -> (child, type code)
    required: tuple[ElementNode, ...] = ()
    base_min: int = 0
    base_max: int | None = None
    base_binding: Binding | None = None
    content_reference: str | None = None
    system_typed: bool = False  # Element.id, Extension.url: plain JSON strings that take no "_name" sidecar
    allowed_types: frozenset[str] | None = None  # in a profile: the types left when it narrows its base's
    restated_types: bool = False  # in a profile: the same types (and their profiles) as the parent's type profile says
    restated_slicing: bool = False  # the same slicing as the parent's type profile has
    # set for profile nodes: whether the node or anything below it adds a check to the base definition
    adds_checks: bool = True
    repeats: bool = field(init=False)

    def __post_init__(self) -> None:
        self.repeats = self.max is None or self.max > 1

    @cached_property
    def checked_binding(self) -> Binding | None:
        """The binding when codes are checked against it (required and extensible ones)."""
        binding = self.binding
        return binding if binding is not None and binding.strength in ("required", "extensible") else None

    @cached_property
    def type_profiles(self) -> dict[str, tuple[str, ...]]:
        """The profiles on each of the element's types that has some."""
        return {t.code: t.profiles for t in self.types if t.profiles}

    @property
    def type_codes(self) -> frozenset[str]:
        return frozenset(t.code for t in self.types)

    @cached_property
    def json_keys(self) -> frozenset[str]:
        """The JSON property names this element appears under (with ``_`` for primitives)."""
        keys = set()
        for type_ref in self.types or (TypeRef("BackboneElement"),):
            name = self.name + type_ref.code[0].upper() + type_ref.code[1:] if self.choice else self.name
            keys.add(name)
            if type_ref.code in PRIMITIVE_TYPES:
                keys.add("_" + name)
        return frozenset(keys)

    def describe(self) -> str:
        """The element as messages name it: its path, with ``:sliceName`` for a slice."""
        return f"{self.path}:{self.slice_name}" if self.slice_name else self.path


@dataclass(eq=False)
class Structure:
    """A compiled StructureDefinition."""

    url: str
    type: str
    kind: str  # resource | complex-type | primitive-type | logical
    derivation: str  # specialization (a core type) | constraint (a profile)
    root: ElementNode
    context: tuple[dict[str, Any], ...] = ()  # for extensions: where they may be used

    @property
    def is_profile(self) -> bool:
        return self.derivation == "constraint"


class Structures:
    """The compiled StructureDefinitions of one registry, compiled on first use and kept."""

    def __init__(self, model: Model, conformance: Conformance, *, report_must_support: bool = False) -> None:
        self.model = model
        self.conformance = conformance
        self.report_must_support = report_must_support
        self._compiled: dict[str, Structure | None] = {}
        self._core_paths: dict[str, dict[str, dict[str, Any]]] = {}
        self._roots: dict[str, ElementNode | None | object] = {}
        self.compiling: set[str] = set()  # URLs being compiled (a profile on a type may refer back)
        self._lock = threading.RLock()

    def by_url(self, url: str) -> Structure | None:
        structure = self._compiled.get(url, _MISSING)
        if structure is not _MISSING:
            return structure  # type: ignore[return-value]
        with self._lock:
            if url not in self._compiled:
                definition = self.conformance.structure_definition(url)
                self._compiled[url] = self._compile(definition) if definition and "snapshot" in definition else None
            return self._compiled[url]

    def by_type(self, type_code: str) -> Structure | None:
        return self.by_url(type_code if "/" in type_code else CORE_PREFIX + type_code)

    def type_root(self, type_code: str) -> ElementNode | None:
        """The root element of a core type's definition (whose children describe its values)."""
        root = self._roots.get(type_code, _MISSING)
        if root is _MISSING:
            structure = self.by_type(type_code)
            root = self._roots[type_code] = structure.root if structure is not None else None
        return root  # type: ignore[return-value]

    def _compile(self, definition: dict[str, Any]) -> Structure:
        self.compiling.add(definition.get("url", ""))
        try:
            return _Compiler(self, definition).structure()
        finally:
            self.compiling.discard(definition.get("url", ""))

    def core_element(self, path: str) -> dict[str, Any] | None:
        """The element definition of a core type at ``path`` (``Patient.name``, ``Coding.system``)."""
        type_name = path.split(".", 1)[0]
        paths = self._core_paths.get(type_name)
        if paths is None:
            definition = self.conformance.structure_definition(CORE_PREFIX + type_name) or {}
            paths = {e["path"]: e for e in definition.get("snapshot", {}).get("element", ())}
            self._core_paths[type_name] = paths
        return paths.get(path)


_MISSING = object()


class _Compiler:
    """Builds the node tree of one snapshot, in document order (children follow their parent,
    slices follow the sliced element)."""

    def __init__(self, structures: Structures, definition: dict[str, Any]) -> None:
        self.structures = structures
        self.model = structures.model
        self.definition = definition
        self.is_profile = definition.get("derivation") == "constraint"

    def structure(self) -> Structure:
        elements = self.definition["snapshot"]["element"]
        root = self.node(elements[0], self.definition["type"])
        by_path = {root.path: root}
        stack = [root]
        for element in elements[1:]:
            path = element["path"]
            depth = path.count(".")
            while stack[-1].path.count(".") >= depth:
                stack.pop()
            parent = stack[-1]
            node = self.node(element, self.child_context(parent, element))
            if node.slice_name:
                self.attach_slice(parent, node)
            else:
                parent.children[node.name] = node
                by_path.setdefault(path, node)
            stack.append(node)
        for node in _walk(root):
            if node.content_reference:
                target = by_path.get(node.content_reference.partition("#")[2])
                if target is not None:
                    node.children = target.children
        for node in _walk(root):
            self.finish(node)
        if self.is_profile:
            for node in _walk(root):
                profile = self.type_profile_root(node)
                if profile is not None:
                    _mark_restated(node, profile)
            _mark_added_checks(root, set(), self.structures.report_must_support)
        return Structure(
            url=self.definition["url"],
            type=self.definition["type"],
            kind=self.definition.get("kind", ""),
            derivation=self.definition.get("derivation", "specialization"),
            root=root,
            context=tuple(self.definition.get("context", ())),
        )

    def type_profile_root(self, node: ElementNode) -> ElementNode | None:
        """The root of the one profile on a node's type, when the node also lists its children
        (an extension slice with the extension's elements copied in)."""
        if not node.children or len(node.types) != 1 or len(node.types[0].profiles) != 1:
            return None
        url = node.types[0].profiles[0]
        if url == self.definition["url"] or url in self.structures.compiling:
            return None
        structure = self.structures.by_url(url)
        return structure.root if structure is not None else None

    def child_context(self, parent: ElementNode, element: dict[str, Any]) -> str:
        """The model context of an element: its backbone path, or its type when it has one type."""
        codes = [_type_code(t) for t in element.get("type", ())]
        if not codes or codes[0] in NESTED_TYPES:
            base_path = element.get("base", {}).get("path") or element["path"]
            return base_path.removesuffix("[x]")
        return codes[0] if len(codes) == 1 else ""

    def node(self, element: dict[str, Any], model_context: str) -> ElementNode:
        path = element["path"]
        last = path.rsplit(".", 1)[-1]
        types = tuple(
            TypeRef(_type_code(t), tuple(t.get("profile", ())), tuple(t.get("targetProfile", ())))
            for t in element.get("type", ())
        )
        if self.definition.get("kind") == "resource" and path == self.definition["type"] + ".id":
            types = (TypeRef("id"),)  # R4 types Resource.id as a FHIRPath String; its format is an id's
        base = element.get("base", {})
        node = ElementNode(
            id=element.get("id", path),
            path=path,
            name=last.removesuffix("[x]"),
            choice=last.endswith("[x]"),
            min=element.get("min", 0),
            max=_max(element.get("max", "*")),
            types=types,
            model_context=model_context,
            slice_name=element.get("sliceName"),
            binding=_binding(element.get("binding")),
            must_support=bool(element.get("mustSupport")),
            is_modifier=bool(element.get("isModifier")),
            max_length=element.get("maxLength"),
            slicing=_slicing(element.get("slicing")),
            content_reference=element.get("contentReference"),
            base_min=base.get("min", element.get("min", 0)),
            base_max=_max(base.get("max", element.get("max", "*"))),
            system_typed=any(t.get("code", "").startswith(_SYSTEM_PREFIX) for t in element.get("type", ())),
        )
        for key, value in element.items():
            if key.startswith("fixed"):
                node.fixed = value
            elif key.startswith("pattern"):
                node.pattern = value
            elif key.startswith("minValue"):
                node.min_value = value
            elif key.startswith("maxValue"):
                node.max_value = value
        node.invariants = self.invariants(element, node)
        if self.is_profile:
            core = self.structures.core_element(base.get("path", ""))
            node.base_binding = _binding(core.get("binding")) if core else None
            base_types = frozenset(_type_code(t) for t in (core or {}).get("type", ()))
            if core is not None and node.type_codes and node.type_codes < base_types:
                node.allowed_types = node.type_codes
        return node

    def invariants(self, element: dict[str, Any], node: ElementNode) -> tuple[Invariant, ...]:
        """The element's invariants, less those its type's own definition checks (ext-1 on every
        Extension element), and for a profile less those of the base element."""
        skip: set[str] = set()
        if len(node.types) == 1 and node.types[0].code not in NESTED_TYPES and node.path.count("."):
            type_definition = self.structures.conformance.type_definition(node.types[0].code) or {}
            first = (type_definition.get("snapshot", {}).get("element") or [{}])[0]
            skip.update(c["key"] for c in first.get("constraint", ()))
        if self.is_profile:
            core = self.structures.core_element(element.get("base", {}).get("path", ""))
            skip.update(c["key"] for c in (core or {}).get("constraint", ()))
            if not node.path.count("."):  # the root: the core type's root invariants were checked
                core_root = self.structures.core_element(self.definition["type"])
                skip.update(c["key"] for c in (core_root or {}).get("constraint", ()))
        compiled = []
        for constraint in element.get("constraint", ()):
            if constraint["key"] in skip:
                continue
            invariant = compile_invariant(self.model, constraint, node.model_context)
            if invariant is not None:
                compiled.append(invariant)
        return tuple(compiled)

    def attach_slice(self, parent: ElementNode, node: ElementNode) -> None:
        sliced = parent.children.get(node.name)
        if sliced is None:
            log.warning("slice without its sliced element", structure=self.definition["url"], element=node.id)
            return
        name = node.slice_name or ""
        if "/" in name:  # a reslice: a slice of the slice named before the "/"
            outer = name.rsplit("/", 1)[0]
            sliced = next((s for s in sliced.slices if s.slice_name == outer), sliced)
        sliced.slices.append(node)

    def finish(self, node: ElementNode) -> None:
        """The JSON names of the children and the required ones."""
        context = node.model_context
        for child in node.children.values():
            if child.path == f"{self.definition['type']}.value" and self.definition.get("kind") == "primitive-type":
                continue  # in JSON the value is the property itself; the "_" object holds id and extensions only
            if context and not child.types:
                info = self.model.element(context, child.name)
                names = info.json_names() if info else [(child.name, "BackboneElement")]
            else:
                names = _json_names(child)
            for json_name, type_code in names:
                node.json[json_name] = (child, type_code)
                if type_code in PRIMITIVE_TYPES and not child.system_typed:
                    node.json["_" + json_name] = (child, type_code)
        node.required = tuple(child for child in node.children.values() if child.min > 0)


def _json_names(child: ElementNode) -> list[tuple[str, str]]:
    if not child.choice:
        return [(child.name, child.types[0].code if child.types else "BackboneElement")]
    return [(child.name + t.code[0].upper() + t.code[1:], t.code) for t in child.types]


def _walk(root: ElementNode) -> Iterator[ElementNode]:
    """Every node once (children shared through a contentReference are not revisited)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        pending.extend(node.children.values())
        pending.extend(node.slices)


def _mark_restated(node: ElementNode, definition: ElementNode) -> None:
    """Drop from the children (and slices) of ``node`` the rules that only restate the same element
    of its type profile's ``definition``: the value is validated against that profile anyway."""
    for name, child in node.children.items():
        other = definition.children.get(name)
        if other is None:
            continue
        _drop_restated_rules(child, other)
        _mark_restated(child, other)
        for slice_node in child.slices:
            same = next((s for s in other.slices if s.slice_name == slice_node.slice_name), None)
            if same is not None:
                _drop_restated_rules(slice_node, same)
                _mark_restated(slice_node, same)


def _drop_restated_rules(node: ElementNode, other: ElementNode) -> None:
    if node.types == other.types:
        node.allowed_types = None
        node.restated_types = True
    if (node.min, node.max) == (other.min, other.max):
        node.base_min, node.base_max = node.min, node.max
    if node.fixed == other.fixed:
        node.fixed = None
    if node.pattern == other.pattern:
        node.pattern = None
    if node.binding == other.binding:
        node.base_binding = node.binding
    if node.max_length == other.max_length:
        node.max_length = None
    if (node.min_value, node.max_value) == (other.min_value, other.max_value):
        node.min_value = node.max_value = None
    if node.slicing == other.slicing:
        node.restated_slicing = True
    keys = {invariant.key for invariant in other.invariants}
    node.invariants = tuple(invariant for invariant in node.invariants if invariant.key not in keys)


def _mark_added_checks(node: ElementNode, visiting: set[int], must_support: bool) -> bool:
    """Whether a profile node adds anything to its base definition, itself or below; sets adds_checks."""
    if id(node) in visiting:
        return False
    visiting.add(id(node))
    own = (
        node.min > node.base_min
        or (node.max is not None and (node.base_max is None or node.max < node.base_max))
        or node.fixed is not None
        or node.pattern is not None
        or bool(node.invariants)
        or node.max_length is not None
        or node.min_value is not None
        or node.max_value is not None
        or (node.checked_binding is not None and node.binding != node.base_binding)
        or (not node.restated_types and any(t.profiles or t.target_profiles for t in node.types))
        or node.allowed_types is not None
        or (must_support and node.must_support)
    )
    children = [_mark_added_checks(child, visiting, must_support) for child in node.children.values()]
    slices = [_mark_added_checks(slice_node, visiting, must_support) for slice_node in node.slices]
    slicing = node.slicing is not None and bool(node.slices) and (not node.restated_slicing or any(slices))
    node.adds_checks = own or slicing or any(children)
    visiting.discard(id(node))
    return node.adds_checks


def _type_code(type_ref: dict[str, Any]) -> str:
    code = type_ref.get("code", "")
    if code.startswith(_SYSTEM_PREFIX):
        for extension in type_ref.get("extension", ()):
            if extension.get("url") == _FHIR_TYPE_EXTENSION:
                return extension.get("valueUrl") or extension.get("valueString") or "string"
        return "string"
    return code


def _max(value: str) -> int | None:
    return None if value == "*" else int(value)


def _binding(binding: dict[str, Any] | None) -> Binding | None:
    if not binding or not binding.get("valueSet"):
        return None
    return Binding(binding.get("strength", "example"), binding["valueSet"])


def _slicing(slicing: dict[str, Any] | None) -> Slicing | None:
    if slicing is None:
        return None
    return Slicing(
        tuple(Discriminator(d["type"], d["path"]) for d in slicing.get("discriminator", ())),
        bool(slicing.get("ordered")),
        slicing.get("rules", "open"),
    )
