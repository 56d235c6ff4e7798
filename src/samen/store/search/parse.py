"""From query parameters to a :class:`SearchQuery`.

Unknown or unsupported parameters are ignored with a warning (or refused with 400 when the client
asked for strict handling); malformed values, unknown modifiers and modifiers the node does not
support are always refused, as the specification asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from samen.fhir.model import Model, SearchParameter
from samen.store.indexer import NEAR_TYPES
from samen.store.rows import TABLE_FOR_TYPE
from samen.store.search import codesets
from samen.store.search import values as v
from samen.store.search.codesets import CodeSets
from samen.store.search.params import (
    MAX_COUNT,
    AllOf,
    QuantityMatch,
    RangeMatch,
    SUMMARY_MODES,
    TOTAL_MODES,
    ChainFilter,
    ChainTarget,
    CompartmentFilter,
    CompositeMatch,
    CompositePart,
    Filter,
    HasFilter,
    IdFilter,
    Include,
    IndexFilter,
    LastUpdatedFilter,
    ListFilter,
    Match,
    MissingFilter,
    NoMatch,
    SearchError,
    SearchQuery,
    SortKey,
)

_OF_TYPE = re.compile(r"\.ofType\(\w+\)$")
_PLAIN_PATH = re.compile(r"^[A-Za-z]+(\.[A-Za-z]+)+$")
MAX_CHAIN = 3  # reference hops in one chain (``subject.organization.name=x`` has two)
MAX_HAS_DEPTH = 3
# Parameters the node does not evaluate: ignored with a warning (strict: 400).
_UNSUPPORTED = frozenset({"_text", "_content", "_query", "_filter", "_contained", "_containedType", "_score"})
# Parameters that only shape the response format; kept in the links, otherwise not the search's business.
_FORMAT = frozenset({"_format", "_pretty"})
_RESULT = frozenset({"_count", "_offset", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude"})


class _Unknown(Exception):
    """A parameter the node does not know for these types (lenient: warning; strict: 400)."""


@lru_cache(maxsize=8)
def _params_by_type(model: Model) -> dict[str, dict[str, SearchParameter]]:
    return {t: model.search_parameters(t) for t in model.resource_types}


@lru_cache(maxsize=8)
def _all_types(model: Model) -> tuple[str, ...]:
    return tuple(sorted(model.resource_types))


def parse_search(
    model: Model,
    resource_type: str | None,
    params: Sequence[tuple[str, str]],
    *,
    strict: bool = False,
    base_url: str | None = None,
    compartment: tuple[str, str] | None = None,
    code_sets: CodeSets | None = None,
) -> SearchQuery:
    """Parse a search on ``resource_type`` (None: system level) into a :class:`SearchQuery`.

    ``compartment`` (``("Patient", "123")``) keeps only what is in that Patient's compartment.
    ``code_sets`` lists the codes of the token modifiers ``:in``, ``:not-in``, ``:below`` and
    ``:above``; without it they are refused. Raises :class:`SearchError` for what the node refuses.
    """
    return _Parser(model, strict, base_url, code_sets).parse(resource_type, params, compartment)


class _Parser:
    def __init__(self, model: Model, strict: bool, base_url: str | None, code_sets: CodeSets | None) -> None:
        self.model = model
        self.strict = strict
        self.base = base_url.rstrip("/") + "/" if base_url else None
        self.code_sets = code_sets
        self.by_type = _params_by_type(model)
        self.warnings: list[str] = []

    def ignore(self, message: str) -> None:
        if self.strict:
            raise SearchError(message)
        self.warnings.append(message)

    # -- the whole query ----------------------------------------------------------------------

    def parse(
        self, resource_type: str | None, params: Sequence[tuple[str, str]], compartment: tuple[str, str] | None
    ) -> SearchQuery:
        if resource_type is not None and resource_type not in self.model.resource_types:
            raise SearchError(f"Unknown resource type '{resource_type}'", 404)
        pairs = [(name.strip(), value) for name, value in params]
        types = self._types(resource_type, pairs, compartment)
        query = SearchQuery(resource_types=types, system_level=resource_type is None)
        accepted: list[tuple[str, str]] = []
        if not types:
            query.filters.append(NoMatch("no resource type left to search"))
        if compartment is not None:
            query.filters.append(self._compartment(types, compartment))

        for name, value in pairs:
            base = name.partition(":")[0]
            if not name:
                continue
            if base in _FORMAT or base == "_type":
                accepted.append((name, value))
            elif base in _RESULT:
                if self._result_param(query, name, base, value):
                    accepted.append((name, value))
            elif base in _UNSUPPORTED:
                self.ignore(f"The search parameter '{name}' is not supported: ignored")
            elif value == "":
                self.warnings.append(f"The search parameter '{name}' has no value: ignored")
            else:
                try:
                    query.filters.append(self.filter(types, name, value, 0))
                    accepted.append((name, value))
                except _Unknown as unknown:
                    self.ignore(f"{unknown}: ignored")
        query.filters = self._merge_bounds(query.filters)
        accepted.sort(key=lambda pair: pair[0])
        query.params = [(n, val) for n, val in accepted if n not in ("_count", "_offset")]
        query.warnings = self.warnings
        return query

    def _types(
        self, resource_type: str | None, pairs: list[tuple[str, str]], compartment: tuple[str, str] | None
    ) -> tuple[str, ...]:
        listed: set[str] = set()
        given = False
        for name, value in pairs:
            if name != "_type":
                continue
            given = True
            for t in value.split(","):
                t = t.strip()
                if t not in self.model.resource_types:
                    raise SearchError(f"_type: unknown resource type '{t}'")
                listed.add(t)
        if resource_type is not None:
            if given:
                self.warnings.append("_type applies to system-level searches only: ignored")
            return (resource_type,)
        types = tuple(sorted(listed)) if given else _all_types(self.model)
        if compartment is not None:
            comp_type = compartment[0]
            types = tuple(t for t in types if t == comp_type or self.model.compartment_params(t))
        return types

    def _compartment(self, types: tuple[str, ...], compartment: tuple[str, str]) -> Filter:
        comp_type, comp_id = compartment
        if comp_type != "Patient":
            raise SearchError(f"Compartment searches are supported for Patient only, not {comp_type}")
        by_type = []
        for t in types:
            params = tuple(
                p for p in self.model.compartment_params(t)
                if (d := self.by_type[t].get(p)) is not None and d.type == "reference"
            )
            if params or t == comp_type:
                by_type.append((t, params))
        if not by_type:
            self.warnings.append(f"{', '.join(types)} is not in the {comp_type} compartment")
            return NoMatch(f"not in the {comp_type} compartment")
        return CompartmentFilter(comp_type, comp_id, tuple(by_type))

    def _merge_bounds(self, filters: list[Filter]) -> list[Filter]:
        """``birthdate=ge1950&birthdate=lt1960`` as one test on one index row, where that means the same.

        Repeated parameters are an AND over resources: each may be met by a different value. When the
        parameter has at most one value per resource, that is an AND over its one index row, which
        is a single index range scan instead of two large sets to intersect.
        """
        groups: dict[tuple[str, tuple[str, ...], str], list[int]] = {}
        for i, f in enumerate(filters):
            if (
                isinstance(f, IndexFilter)
                and not f.negate
                and len(f.matches) == 1
                and isinstance(f.matches[0], (RangeMatch, QuantityMatch))
            ):
                groups.setdefault((f.table, f.types, f.param), []).append(i)
        merged: dict[int, Filter] = {}
        dropped: set[int] = set()
        for (table, types, param), positions in groups.items():
            if len(positions) < 2 or not all(_single_valued(self.model, t, param) for t in types):
                continue
            matches = tuple(m for i in positions for m in filters[i].matches)  # type: ignore[union-attr]
            merged[positions[0]] = IndexFilter(table, types, param, (AllOf(matches),))
            dropped.update(positions[1:])
        return [merged.get(i, f) for i, f in enumerate(filters) if i not in dropped]

    # -- result parameters --------------------------------------------------------------------

    def _result_param(self, query: SearchQuery, name: str, base: str, value: str) -> bool:
        """Apply one result parameter; True when it belongs in the paging links."""
        modifier = name[len(base) + 1 :] if ":" in name else ""
        if modifier and base not in ("_include", "_revinclude"):
            raise SearchError(f"'{name}': {base} takes no modifier")
        if base == "_count":
            count = _whole(name, value)
            if count > MAX_COUNT:
                self.warnings.append(f"_count {count} is more than the most this node returns: {MAX_COUNT} used")
                count = MAX_COUNT
            query.count = count
        elif base == "_offset":
            query.offset = _whole(name, value)
        elif base == "_total":
            if value not in TOTAL_MODES:
                raise SearchError(f"_total must be one of {', '.join(TOTAL_MODES)}, not '{value}'")
            query.total = value
        elif base == "_summary":
            if value not in SUMMARY_MODES:
                raise SearchError(f"_summary must be one of {', '.join(SUMMARY_MODES)}, not '{value}'")
            query.summary = value
        elif base == "_elements":
            names = [n.strip() for n in value.split(",") if n.strip()]
            query.elements = names or None
            return bool(names)
        elif base == "_sort":
            keys = self._sort(query.resource_types, value)
            query.sort = keys
            return bool(keys)
        else:
            include = self._include(base == "_revinclude", modifier, value)
            if include is None:
                return False
            query.includes.append(include)
        return True

    def _sort(self, types: tuple[str, ...], value: str) -> list[SortKey]:
        keys = []
        for item in value.split(","):
            item = item.strip()
            descending = item.startswith("-")
            name = item[1:] if descending else item
            if not name:
                continue
            if name in ("_id", "_lastUpdated"):
                keys.append(SortKey(name, descending))
                continue
            try:
                kind, _ = self._definitions(types, name)
            except _Unknown as unknown:
                self.ignore(f"_sort: {unknown}: ignored")
                continue
            table = TABLE_FOR_TYPE.get(kind)
            if table is None:
                self.ignore(f"_sort: sorting by a {kind} parameter ('{name}') is not supported: ignored")
                continue
            keys.append(SortKey(name, descending, table, name))
        return keys

    def _include(self, reverse: bool, modifier: str, value: str) -> Include | None:
        what = "_revinclude" if reverse else "_include"
        if modifier not in ("", "iterate", "recurse"):
            raise SearchError(f"Unknown modifier '{what}:{modifier}' (use :iterate)")
        iterate = modifier != ""
        value = value.strip()
        if value == "*":
            return Include(reverse, None, None, None, iterate)
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise SearchError(f"{what}: '{value}' is not of the form Type:parameter[:targetType]")
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        for t in (source, target):
            if t is not None and t not in self.model.resource_types:
                raise SearchError(f"{what}: unknown resource type '{t}' in '{value}'")
        if code == "*":
            return Include(reverse, source, None, target, iterate)
        definition = self.by_type[source].get(code)
        if definition is None or definition.type != "reference":
            self.ignore(f"{what}: {source} has no reference parameter '{code}': ignored")
            return None
        return Include(reverse, source, code, target, iterate)

    # -- filters ------------------------------------------------------------------------------

    def filter(self, types: tuple[str, ...], name: str, value: str, depth: int) -> Filter:
        """One search parameter on ``types``; raises :class:`_Unknown` when no type knows it."""
        if name.startswith("_has:"):
            return self._has(types, name, value, depth)
        if "." in name:
            return self._chain(types, name, value, depth)
        code, _, modifier = name.partition(":")
        raws = v.split_escaped(value, ",")
        if code == "_id":
            if modifier not in ("", "not"):
                raise SearchError(f"Unknown or unsupported modifier '{name}'")
            return IdFilter(tuple(v.unescape(raw) for raw in raws), negate=modifier == "not")
        if code == "_lastUpdated":
            if modifier:
                raise SearchError(f"Unknown or unsupported modifier '{name}'")
            return LastUpdatedFilter(tuple(v.date_match(raw) for raw in raws))
        if code == "_list":
            if modifier:
                raise SearchError(f"Unknown or unsupported modifier '{name}'")
            ids = tuple(v.unescape(raw) for raw in raws)
            if any(i.startswith("$") for i in ids):
                raise _Unknown(f"Functional lists ('_list={value}') are not supported")
            return ListFilter(types, ids)
        if code in _UNSUPPORTED:
            raise _Unknown(f"The search parameter '{code}' is not supported")
        if code == "near":
            return self._near(types, name, modifier, raws)
        kind, defined = self._definitions(types, code)
        param_types = tuple(sorted(defined))
        if modifier == "missing":
            return self._missing(kind, param_types, code, defined, value)
        if kind == "composite":
            if modifier:
                raise SearchError(f"Unknown modifier '{name}' (a composite parameter takes :missing only)")
            definition = defined[param_types[0]]
            return IndexFilter("composite", param_types, code, tuple(self._composite(definition, raw) for raw in raws))
        if kind == "token":
            if modifier in codesets.MODIFIERS:
                match = codesets.code_set_match(self.code_sets, name, raws)
                return IndexFilter("idx_token", param_types, code, (match,), negate=modifier == "not-in")
            if modifier == "of-type":
                return IndexFilter("idx_token", param_types, code + ":of-type", tuple(map(v.of_type_match, raws)))
            if modifier == "text":
                return IndexFilter("idx_token", param_types, code, tuple(map(v.token_text_match, raws)))
            if modifier not in ("", "not"):
                raise SearchError(f"Unknown modifier '{name}' for a token parameter")
            matches = tuple(map(v.token_match, raws))
            return IndexFilter("idx_token", param_types, code, matches, negate=modifier == "not")
        if kind == "reference":
            if modifier == "identifier":
                return IndexFilter("idx_token", param_types, code + ":identifier", tuple(map(v.token_match, raws)))
            if modifier and modifier not in self.model.resource_types:
                raise SearchError(f"Unknown or unsupported modifier '{name}' for a reference parameter")
            of_type = modifier or None
            matches = tuple(v.reference_match(raw, self.model.resource_types, self.base, of_type) for raw in raws)
            return IndexFilter("idx_reference", param_types, code, matches)
        table = TABLE_FOR_TYPE.get(kind)
        if table is None:
            raise _Unknown(f"The {kind} search parameter '{code}' is not supported")
        allowed = {"string": ("", "exact", "contains"), "uri": ("", "below", "above")}.get(kind, ("",))
        if modifier not in allowed:
            raise SearchError(f"Unknown or unsupported modifier '{name}' for a {kind} parameter")
        return IndexFilter(table, param_types, code, tuple(self._value(kind, modifier, raw) for raw in raws))

    def _value(self, kind: str, modifier: str, raw: str) -> Match:
        if kind == "string":
            return v.string_match(raw, modifier)
        if kind == "token":
            return v.token_match(raw)
        if kind == "reference":
            return v.reference_match(raw, self.model.resource_types, self.base, None)
        if kind == "date":
            return v.date_match(raw)
        if kind == "number":
            return v.number_match(raw)
        if kind == "quantity":
            return v.quantity_match(raw)
        if kind == "uri":
            return v.uri_match(raw, modifier)
        raise SearchError(f"A {kind} value cannot be searched here")

    def _composite(self, definition: SearchParameter, raw: str) -> CompositeMatch:
        pieces = v.split_escaped(raw, "$")
        if len(pieces) != len(definition.components):
            raise SearchError(
                f"'{raw}' is not a valid value for composite '{definition.code}': "
                f"expected {len(definition.components)} parts separated by '$'"
            )
        parts = []
        for i, ((url, _), piece) in enumerate(zip(definition.components, pieces, strict=True)):
            component = self.model.search_parameter_by_url(url)
            table = TABLE_FOR_TYPE.get(component.type) if component is not None else None
            if component is None or table is None:
                raise _Unknown(f"The composite search parameter '{definition.code}' is not supported")
            parts.append(CompositePart(table, f"{definition.code}${i}", self._value(component.type, "", piece)))
        return CompositeMatch(tuple(parts))

    def _missing(
        self, kind: str, types: tuple[str, ...], code: str, defined: dict[str, SearchParameter], value: str
    ) -> Filter:
        if value not in ("true", "false"):
            raise SearchError(f"{code}:missing must be true or false, not '{value}'")
        if kind == "composite":
            return MissingFilter(
                TABLE_FOR_TYPE[self._component_type(defined[types[0]], 0)], types, f"{code}$0", value == "true"
            )
        table = TABLE_FOR_TYPE.get(kind)
        if table is None:
            raise _Unknown(f"The {kind} search parameter '{code}' is not supported")
        return MissingFilter(table, types, code, value == "true")

    def _near(self, types: tuple[str, ...], name: str, modifier: str, raws: list[str]) -> Filter:
        """``near`` (a special parameter): positions indexed as one number row each (see the indexer)."""
        near_types = tuple(t for t in types if t in NEAR_TYPES and "near" in self.by_type[t])
        if not near_types:
            raise _Unknown("Unknown search parameter 'near' for " + ", ".join(types))
        if modifier:
            raise SearchError(f"Unknown modifier '{name}' (near takes none)")
        return IndexFilter("idx_number", near_types, "near", tuple(map(v.near_match, raws)))

    def _component_type(self, definition: SearchParameter, i: int) -> str:
        component = self.model.search_parameter_by_url(definition.components[i][0])
        if component is None or component.type not in TABLE_FOR_TYPE:
            raise _Unknown(f"The composite search parameter '{definition.code}' is not supported")
        return component.type

    def _definitions(self, types: tuple[str, ...], code: str) -> tuple[str, dict[str, SearchParameter]]:
        """The parameter's type and its definition per resource type that has it."""
        defined = {t: d for t in types if (d := self.by_type[t].get(code)) is not None}
        if not defined:
            label = types[0] if len(types) == 1 else "the searched resource types"
            raise _Unknown(f"Unknown search parameter '{code}' for {label}")
        kinds = {d.type for d in defined.values()}
        if len(kinds) > 1:
            raise SearchError(f"'{code}' is a different kind of parameter on different types; search with one _type")
        kind = kinds.pop()
        if kind == "special":
            raise _Unknown(f"The special search parameter '{code}' is not supported")
        return kind, defined

    def _chain(self, types: tuple[str, ...], name: str, value: str, depth: int) -> Filter:
        head, _, rest = name.partition(".")
        if depth + name.count(".") > MAX_CHAIN:
            raise SearchError(f"'{name}': chains of more than {MAX_CHAIN} references are not supported")
        code, _, of_type = head.partition(":")
        kind, defined = self._definitions(types, code)
        if kind != "reference":
            raise SearchError(f"'{name}': only reference parameters can be chained, '{code}' is a {kind}")
        if of_type:
            if of_type not in self.model.resource_types:
                raise SearchError(f"'{name}': unknown resource type '{of_type}'")
            candidates: list[str] = [of_type]
        else:
            candidates = sorted({t for d in defined.values() for t in d.target}) or list(_all_types(self.model))
        targets = []
        for target in candidates:
            try:
                targets.append(ChainTarget(target, (self.filter((target,), rest, value, depth + 1),)))
            except _Unknown:
                continue
        if not targets:
            raise _Unknown(f"Unknown chained parameter '{name}': no type that '{code}' refers to has '{rest}'")
        return ChainFilter(tuple(sorted(defined)), code, tuple(targets))

    def _has(self, types: tuple[str, ...], name: str, value: str, depth: int) -> Filter:
        if depth >= MAX_HAS_DEPTH:
            raise SearchError(f"'{name}': _has nested more than {MAX_HAS_DEPTH} deep is not supported")
        parts = name[len("_has:") :].split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise SearchError(f"'{name}' is not of the form _has:Type:reference:parameter")
        source_type, source_param, rest = parts
        if source_type not in self.model.resource_types:
            raise SearchError(f"'{name}': unknown resource type '{source_type}'")
        definition = self.by_type[source_type].get(source_param)
        if definition is None or definition.type != "reference":
            raise _Unknown(f"'{name}': {source_type} has no reference parameter '{source_param}'")
        referred = tuple(t for t in types if not definition.target or t in definition.target)
        if not referred:
            raise SearchError(f"'{name}': {source_type}.{source_param} cannot refer to {', '.join(types)}")
        inner = self.filter((source_type,), rest, value, depth + 1)
        return HasFilter(referred, source_type, source_param, (inner,))


@lru_cache(maxsize=4096)
def _single_valued(model: Model, res_type: str, code: str) -> bool:
    """Whether the parameter yields at most one index row per resource: its expression selects one
    element (a choice element's types count as one) with at most one value at every step, and no
    Timing (which can give two date rows)."""
    definition = model.search_parameter(res_type, code)
    if definition is None or not definition.expression:
        return False
    paths = set()
    for branch in definition.expression.split("|"):
        path = branch.strip()
        while path.startswith("(") and path.endswith(")"):
            path = path[1:-1].strip()
        path = _OF_TYPE.sub("", path)
        if not _PLAIN_PATH.match(path):
            return False
        paths.add(path)
    if len(paths) != 1:
        return False
    names = paths.pop().split(".")
    if names[0] != res_type:
        return False
    context = res_type
    for name in names[1:]:
        info = model.element(context, name)
        if info is None or info.max != "1" or "Timing" in info.types:
            return False
        context = info.context
    return True


def _whole(name: str, value: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise SearchError(f"{name} must be a non-negative whole number, not '{value}'")
    return int(value)
