"""What the node knows of the FHIR R4 model: resource types, elements, search parameters, compartments."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from samen.fhir import definitions

PRIMITIVE_TYPES = frozenset(
    {
        "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant",
        "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url",
        "uuid", "xhtml",
    }
)
_NESTED_CONTEXT_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True)
class ElementInfo:
    """One element of a resource or datatype, as its StructureDefinition describes it."""

    name: str  # the element name without "[x]"
    types: tuple[str, ...]
    max: str
    min: int
    summary: bool
    choice: bool
    context: str  # where its children are described: a datatype name or a backbone path

    @property
    def repeats(self) -> bool:
        return self.max != "1" and self.max != "0"

    def json_names(self) -> list[tuple[str, str]]:
        """The JSON property names this element can appear under, each with its type."""
        if not self.choice:
            return [(self.name, self.types[0] if self.types else "")]
        return [(self.name + t[0].upper() + t[1:], t) for t in self.types]


@dataclass(frozen=True)
class SearchParameter:
    """One SearchParameter for one resource type."""

    code: str
    type: str
    expression: str
    url: str
    base: tuple[str, ...]
    target: tuple[str, ...] = ()
    components: tuple[tuple[str, str], ...] = ()  # (definition url, expression)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class Model:
    """Read-only view of the compiled definitions; one instance is shared by a whole node."""

    def __init__(self, compact: dict[str, Any]) -> None:
        self._compact = compact
        self.fhir_version: str = compact["fhirVersion"]
        self.resource_types: frozenset[str] = frozenset(compact["resourceTypes"])
        self._elements: dict[str, dict[str, Any]] = compact["elements"]
        self._element_cache: dict[tuple[str, str], ElementInfo | None] = {}
        self.patient_compartment: dict[str, list[str]] = compact["compartments"]["Patient"]
        self._search_by_type: dict[str, dict[str, SearchParameter]] = {}
        self._search_by_url: dict[str, SearchParameter] = {}
        for raw in compact["searchParameters"]:
            for base in raw["base"]:
                param = _search_parameter(raw, base)
                self._search_by_type.setdefault(base, {})[param.code] = param
            self._search_by_url[raw["url"]] = _search_parameter(raw, raw["base"][0])

    @classmethod
    def load(cls) -> Model:
        return cls(definitions.load())

    # -- elements ---------------------------------------------------------------------------

    def element(self, context: str, name: str) -> ElementInfo | None:
        """The child element ``name`` of ``context`` (a type name or a backbone element path)."""
        key = (context, name)
        if key not in self._element_cache:
            self._element_cache[key] = self._find_element(context, name)
        return self._element_cache[key]

    def _find_element(self, context: str, name: str) -> ElementInfo | None:
        children = self._elements.get(context)
        if children is None:
            return None
        raw = children.get(name)
        choice = False
        if raw is None:
            raw = children.get(name + "[x]")
            choice = raw is not None
        if raw is None:
            return None
        types = tuple(raw["types"])
        path = f"{context}.{name}[x]" if choice else f"{context}.{name}"
        if "ref" in raw:
            child_context = raw["ref"]
        elif len(types) == 1 and types[0] in _NESTED_CONTEXT_TYPES:
            child_context = path
        else:
            child_context = types[0] if len(types) == 1 else ""
        return ElementInfo(
            name=name,
            types=types,
            max=raw["max"],
            min=raw["min"],
            summary=bool(raw.get("summary")),
            choice=choice,
            context=child_context,
        )

    def children(self, context: str) -> list[ElementInfo]:
        """All child elements of a context, in definition order."""
        result = []
        for raw_name in self._elements.get(context, {}):
            info = self.element(context, raw_name.removesuffix("[x]"))
            if info is not None:
                result.append(info)
        return result

    @cached_property
    def summary_elements(self) -> dict[str, frozenset[str]]:
        """Per resource type, the JSON names of its top-level elements marked isSummary (for ``_summary``)."""
        summary: dict[str, frozenset[str]] = {}
        for resource_type in self.resource_types:
            names: set[str] = {"resourceType", "id", "meta"}
            for info in self.children(resource_type):
                if info.summary or info.min > 0:
                    names.update(json_name for json_name, _ in info.json_names())
            summary[resource_type] = frozenset(names)
        return summary

    @cached_property
    def top_level_names(self) -> dict[str, frozenset[str]]:
        """Per resource type, every JSON property name allowed at the top level."""
        allowed: dict[str, frozenset[str]] = {}
        for resource_type in self.resource_types:
            names: set[str] = {"resourceType"}
            for info in self.children(resource_type):
                for json_name, type_code in info.json_names():
                    names.add(json_name)
                    if type_code in PRIMITIVE_TYPES:
                        names.add("_" + json_name)
            allowed[resource_type] = frozenset(names)
        return allowed

    # -- search parameters ------------------------------------------------------------------

    def search_parameters(self, resource_type: str) -> dict[str, SearchParameter]:
        """Every search parameter that applies to ``resource_type`` (its own and the common ones)."""
        params = dict(self._search_by_type.get("Resource", {}))
        if resource_type not in ("Resource", "Binary", "Bundle", "Parameters"):
            params.update(self._search_by_type.get("DomainResource", {}))
        params.update(self._search_by_type.get(resource_type, {}))
        return params

    def search_parameter(self, resource_type: str, code: str) -> SearchParameter | None:
        return self.search_parameters(resource_type).get(code)

    def search_parameter_by_url(self, url: str) -> SearchParameter | None:
        return self._search_by_url.get(url)

    def compartment_params(self, resource_type: str) -> list[str]:
        """The search parameters that put a resource of this type in a Patient's compartment."""
        return self.patient_compartment.get(resource_type, [])


def _search_parameter(raw: dict[str, Any], base: str) -> SearchParameter:
    return SearchParameter(
        code=raw["code"],
        type=raw["type"],
        expression=_expression_for_base(raw.get("expression", ""), base),
        url=raw["url"],
        base=tuple(raw["base"]),
        target=tuple(raw.get("target", ())),
        components=tuple((c["definition"], c["expression"]) for c in raw.get("component", ())),
        raw=raw,
    )


def _expression_for_base(expression: str, base: str) -> str:
    """Keep only the union branches of a shared expression that apply to ``base``.

    Shared R4 parameters such as ``clinical-patient`` list one branch per resource type
    (``AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | ...``).
    """
    if base in ("Resource", "DomainResource") or "|" not in expression:
        return expression
    branches = [b.strip() for b in _split_union(expression)]
    mine = [b for b in branches if _branch_applies(b.lstrip("("), base)]
    return " | ".join(mine) if mine else expression


def _branch_applies(branch: str, base: str) -> bool:
    """``Observation``, ``Observation.code`` and ``Observation as X`` apply to Observation; ``ObservationDefinition.x`` does not."""
    return branch == base or branch.rstrip(")") == base or branch.startswith((base + ".", base + " "))


def _split_union(expression: str) -> list[str]:
    depth, start, parts = 0, 0, []
    quoted = False
    for i, ch in enumerate(expression):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "|" and depth == 0:
            parts.append(expression[start:i])
            start = i + 1
    parts.append(expression[start:])
    return parts
