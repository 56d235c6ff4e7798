"""Turns a resource into its search-index rows, following the conventions in :mod:`samen.store.rows`.

Each search parameter's expression is compiled once per resource type (see
:mod:`samen.fhir.pathexpr`); every value it selects is converted by the parameter's type and the
value's FHIR type, as the R4 search specification describes. Values that cannot be read (a bad
date, a non-number) are dropped: rejecting them is the validator's job, not the index's.

Choices made where the specification and rows.py leave room:

- ContactPoint as a token: ``system`` = ContactPoint.system (``phone``, ``email``...), ``code`` = its
  value, so both ``phone=0612345678`` and ``telecom=phone|0612345678`` find it.
- Money as a quantity: ``system`` = ``urn:iso:std:iso:4217``, ``code`` = the currency, no unit.
- Range as a quantity or number: ``lo`` from ``low``, ``hi`` from ``high``; a missing end is
  -inf/+inf. Unit, system and code come from ``low`` (or ``high`` when there is no low).
- SampledData, Age/Range/string onsets under date parameters and Attachments under reference
  parameters carry no searchable value of the parameter's kind and are skipped.
- References: a reference on this node's base URL is stored like a relative one (no ``url``); other
  absolute URLs keep ``url`` and, when they end in ``Type/id``, the target too. A ``/_history/n``
  version is dropped everywhere. Canonicals and uris under reference parameters lose their
  ``|version``, always keep ``url``, and name a target like any absolute URL. A bare id (``123``)
  gives a row without type.
  A Reference with no ``reference`` but a ``type`` counts as that type for ``resolve() is Type``.
- An inline resource under a reference parameter (``Bundle.entry[0].resource``) gives its
  ``resourceType``/``id`` as the target, if the parameter targets that type.
- A Reference under a token parameter (the swapped R4 component definitions of
  ``DocumentReference.relationship``) is a token with no system and the reference as code.
- Composites: ``i`` in ``code$i`` is the 0-based position of the component in the definition;
  an element is indexed only when every component has a value, since a search must match them all.
- Uri parameters store the value as written (a canonical keeps its ``|version`` there).
- String values are stored normalised and cut to 500 characters (b-tree index rows have a size limit);
  ``exact`` keeps the whole text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from samen.fhir.model import Model, SearchParameter
from samen.fhir.pathexpr import CompiledPath, Item, compile_path, is_id, reference_parts
from samen.fhir.primitives import date_range, decimal_range
from samen.fhir.text import normalize
from samen.store.rows import DATE_MAX, DATE_MIN, IndexRows

Convert = Callable[[str, int, Any, IndexRows], None]  # (param, grp, value, rows)
Plan = Callable[[Item, IndexRows], None]


@dataclass(frozen=True, slots=True)
class _TypePlan:
    """The parameters of one resource type; most run only when the resource has a key they read."""

    always: tuple[Plan, ...]
    plans: tuple[Plan, ...]
    by_key: dict[str, tuple[int, ...]]  # top-level JSON key -> indexes into ``plans``


_SKIPPED = frozenset({"_id", "_lastUpdated"})
NEAR_TYPES = frozenset({"Location"})  # types whose ``position`` is indexed for ``near`` (the parser asks here)
_MAX_STRING = 500
_ISO_4217 = "urn:iso:std:iso:4217"
_QUANTITY_TYPES = ("Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity")
_HUMAN_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


class Indexer:
    """Computes the index rows of resources; one instance serves a whole node (thread-safe)."""

    def __init__(self, model: Model, base_url: str | None = None) -> None:
        self.model = model
        self._base = base_url.rstrip("/") + "/" if base_url else None
        self._plans: dict[str, _TypePlan] = {}
        self._reference_row = lru_cache(maxsize=65536)(self._parse_reference)
        self._converters: dict[str, dict[str, Convert]] = {
            "string": _STRING_CONVERTERS,
            "token": _TOKEN_CONVERTERS,
            "reference": self._reference_converters(),
            "date": _DATE_CONVERTERS,
            "number": _NUMBER_CONVERTERS,
            "quantity": _QUANTITY_CONVERTERS,
            "uri": _URI_CONVERTERS,
        }

    def index(self, resource: dict[str, Any]) -> IndexRows:
        """Every index row of ``resource`` (duplicates removed)."""
        res_type = resource.get("resourceType")
        if not isinstance(res_type, str):
            return IndexRows()
        type_plan = self._plans.get(res_type)
        if type_plan is None:
            type_plan = self._plans[res_type] = self._plan(res_type)
        rows = IndexRows()
        root = (resource, res_type, res_type)
        for plan in type_plan.always:
            plan(root, rows)
        selected: set[int] = set()
        by_key = type_plan.by_key
        for key in resource:
            hits = by_key.get(key)
            if hits:
                selected.update(hits)
        plans = type_plan.plans
        for i in sorted(selected):
            plans[i](root, rows)
        for table in rows.by_table().values():
            if len(table) > 1:
                table[:] = dict.fromkeys(table)
        return rows

    # -- plans --------------------------------------------------------------------------------

    def _plan(self, res_type: str) -> _TypePlan:
        """One closure per indexed search parameter of ``res_type``, keyed by the JSON keys it reads."""
        always: list[Plan] = []
        plans: list[Plan] = []
        by_key: dict[str, list[int]] = {}
        for code, param in sorted(self.model.search_parameters(res_type).items()):
            if code == "near" and res_type in NEAR_TYPES:
                plans.append(_position_plan)
                by_key.setdefault("position", []).append(len(plans) - 1)
                continue
            if code in _SKIPPED or param.type == "special" or not param.expression:
                continue
            path = compile_path(self.model, param.expression, res_type)
            if param.type == "composite":
                planned = self._composite_plan(res_type, param, path)
            else:
                planned = _simple_plan(code, path, self._converters_for(param)), path.needs
            if planned is None:
                continue
            plan, needs = planned
            if needs is None:
                always.append(plan)
                continue
            for key in needs:
                by_key.setdefault(key, []).append(len(plans))
            plans.append(plan)
        return _TypePlan(tuple(always), tuple(plans), {k: tuple(v) for k, v in by_key.items()})

    def _composite_plan(
        self, res_type: str, param: SearchParameter, path: CompiledPath
    ) -> tuple[Plan, frozenset[str] | None] | None:
        """Components of each selected element share a ``grp`` (1, 2, ...) and are stored as ``code$i``.

        An element is indexed only when every component has a value: a search must match them all.
        """
        components = []
        for i, (definition, expression) in enumerate(param.components):
            component = self.model.search_parameter_by_url(definition)
            if component is None or component.type not in self._converters:
                return None
            compiled = compile_path(self.model, expression, path.focus or (), res_type)
            components.append((f"{param.code}${i}", compiled, self._converters[component.type]))
        needs = path.needs
        if needs is None and param.expression.strip() == res_type:  # over the resource itself
            needs = next((c.needs for _, c, _ in components if c.needs is not None), None)
        steps = tuple((name, compiled.run, converters) for name, compiled, converters in reversed(components))
        select = path.run

        def plan(root: Item, rows: IndexRows) -> None:
            for grp, element in enumerate(select([root], root), 1):
                _composite_group(steps, grp, element, root, rows)

        return plan, needs

    def _converters_for(self, param: SearchParameter) -> dict[str, Convert]:
        """The converters of a parameter's type; inline resources only of the types it targets."""
        converters = self._converters.get(param.type, {})
        if param.type != "reference" or not param.target:
            return converters
        types = self.model.resource_types
        return {t: c for t, c in converters.items() if t not in types or t in param.target}

    # -- references ---------------------------------------------------------------------------

    def _reference_converters(self) -> dict[str, Convert]:
        converters: dict[str, Convert] = {
            "Reference": self._reference,
            "canonical": self._canonical,
            "uri": self._canonical,
            "url": self._canonical,
            "code": self._reference_text,
            "id": self._reference_text,
            "string": self._reference_text,
        }
        converters.update((t, _inline_resource) for t in self.model.resource_types)
        return converters

    def _reference(self, param: str, grp: int, value: Any, rows: IndexRows) -> None:
        if type(value) is not dict:
            return
        reference = value.get("reference")
        if type(reference) is str and not reference.startswith("#"):
            self._reference_text(param, grp, reference, rows)
        identifier = value.get("identifier")
        if type(identifier) is dict:
            _identifier_token(param + ":identifier", grp, identifier, rows.token)

    def _reference_text(self, param: str, grp: int, value: Any, rows: IndexRows) -> None:
        if type(value) is str:
            row = self._reference_row(value)
            if row is not None:
                rows.reference.append((param, grp, *row))

    def _canonical(self, param: str, grp: int, value: Any, rows: IndexRows) -> None:
        """A canonical keeps its URL (even on this node's base: canonicals are identifiers)."""
        if type(value) is str:
            url = value.partition("|")[0]
            row = self._reference_row(url)
            if row is not None:
                rows.reference.append((param, grp, row[0], row[1], url))

    def _parse_reference(self, reference: str) -> tuple[str | None, str | None, str | None] | None:
        """``(target_type, target_id, url)`` for a reference text, None when it names nothing."""
        if self._base and reference.startswith(self._base):
            reference = reference[len(self._base) :]
        reference = reference.partition("/_history/")[0]
        absolute = "://" in reference or reference.startswith("urn:")
        parts = reference_parts(reference)
        if parts is not None and parts[0] not in self.model.resource_types:
            parts = None
        if absolute:
            return (parts[0], parts[1], reference) if parts else (None, None, reference)
        if parts:
            return parts[0], parts[1], None
        if is_id(reference):
            return None, reference, None
        return None


def _composite_group(steps: tuple, grp: int, element: Item, root: Item, rows: IndexRows) -> None:
    """Index one element of a composite if each component has a value of a convertible type (the
    value parts, last in the definition, are tried first: they are the ones most often missing)."""
    pending = []
    for name, run, converters in steps:
        found = [(converters[t], value) for value, t, _ in run([element], root) if t in converters]
        if not found:
            return
        pending.append((name, found))
    for name, found in pending:
        for convert, value in found:
            convert(name, grp, value, rows)


def _simple_plan(code: str, path: CompiledPath, converters: dict[str, Convert]) -> Plan:
    run = path.run

    def plan(root: Item, rows: IndexRows) -> None:
        for value, value_type, _ in run([root], root):
            convert = converters.get(value_type)
            if convert is not None:
                convert(code, 0, value, rows)

    return plan


def _position_plan(root: Item, rows: IndexRows) -> None:
    """``near`` (special): a Location's position as one number row, ``lo`` latitude and ``hi`` longitude."""
    position = root[0].get("position")
    if type(position) is not dict:
        return
    latitude, longitude = position.get("latitude"), position.get("longitude")
    if not all(type(x) in (int, float) for x in (latitude, longitude)):
        return
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        rows.number.append(("near", 0, float(latitude), float(longitude)))


def _inline_resource(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is dict and type(value.get("id")) is str:
        rows.reference.append((param, grp, value.get("resourceType"), value["id"], None))


# -- strings ------------------------------------------------------------------------------------


def _string(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is str and value:
        normalized = normalize(value)
        if normalized:
            rows.string.append((param, grp, normalized[:_MAX_STRING], value))


def _string_parts(parts: tuple[str, ...]) -> Convert:
    """A complex type searched by several of its string parts (HumanName, Address)."""

    def convert(param: str, grp: int, value: Any, rows: IndexRows) -> None:
        if type(value) is not dict:
            return
        for part in parts:
            text = value.get(part)
            if type(text) is list:
                for line in text:
                    _string(param, grp, line, rows)
            elif text is not None:
                _string(param, grp, text, rows)

    return convert


_STRING_CONVERTERS: dict[str, Convert] = {
    "string": _string,
    "markdown": _string,
    "HumanName": _string_parts(_HUMAN_NAME_PARTS),
    "Address": _string_parts(_ADDRESS_PARTS),
}


# -- tokens -------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return (normalize(value) or None) if type(value) is str else None


def _str_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


def _coding_row(param: str, grp: int, coding: Any, text: str | None, rows: IndexRows) -> None:
    if type(coding) is not dict:
        return
    system, code = _str_or_none(coding.get("system")), _str_or_none(coding.get("code"))
    if system is not None or code is not None:
        rows.token.append((param, grp, system, code, text or _text(coding.get("display"))))


def _coding(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    _coding_row(param, grp, value, None, rows)


def _codeable_concept(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is not dict:
        return
    text = _text(value.get("text"))
    codings = value.get("coding")
    if type(codings) is list and codings:
        for coding in codings:
            _coding_row(param, grp, coding, text, rows)
    elif text:
        rows.token.append((param, grp, None, None, text))


def _identifier_token(param: str, grp: int, value: dict[str, Any], tokens: list) -> None:
    """An Identifier's system|value row; ``:text`` searches its type's text."""
    system, code = _str_or_none(value.get("system")), _str_or_none(value.get("value"))
    if system is not None or code is not None:
        id_type = value.get("type")
        tokens.append((param, grp, system, code, _text(id_type.get("text")) if type(id_type) is dict else None))


def _identifier(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    """An Identifier, plus an ``:of-type`` row (code ``typecode|value``) per coding of its type."""
    if type(value) is not dict:
        return
    _identifier_token(param, grp, value, rows.token)
    code, id_type = value.get("value"), value.get("type")
    if type(code) is not str or type(id_type) is not dict or type(id_type.get("coding")) is not list:
        return
    for coding in id_type["coding"]:
        if type(coding) is dict and type(coding.get("code")) is str:
            of_type = f"{coding['code']}|{code}"
            rows.token.append((param + ":of-type", grp, _str_or_none(coding.get("system")), of_type, None))


def _contact_point(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is dict and type(value.get("value")) is str:
        rows.token.append((param, grp, _str_or_none(value.get("system")), value["value"], None))


def _primitive_token(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is bool:
        rows.token.append((param, grp, None, "true" if value else "false", None))
    elif type(value) is str and value:
        rows.token.append((param, grp, None, value, None))


def _reference_token(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is dict and type(value.get("reference")) is str:
        rows.token.append((param, grp, None, value["reference"], _text(value.get("display"))))


_TOKEN_CONVERTERS: dict[str, Convert] = {
    "Coding": _coding,
    "CodeableConcept": _codeable_concept,
    "Identifier": _identifier,
    "ContactPoint": _contact_point,
    "Reference": _reference_token,
    **{t: _primitive_token for t in ("boolean", "code", "string", "id", "uri", "url", "canonical", "oid", "uuid")},
}


# -- dates --------------------------------------------------------------------------------------


def _range_of(value: Any) -> tuple[int, int] | None:
    if type(value) is not str:
        return None
    try:
        return date_range(value)
    except ValueError:
        return None


def _date(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    found = _range_of(value)
    if found is not None:
        rows.date.append((param, grp, *found))


def _period_range(value: Any) -> tuple[int, int] | None:
    """A Period's span; an open end reaches DATE_MIN/DATE_MAX, an unreadable one spoils it."""
    if type(value) is not dict:
        return None
    start, end = value.get("start"), value.get("end")
    if start is None and end is None:
        return None
    lo = _range_of(start) if start is not None else (DATE_MIN, DATE_MIN)
    hi = _range_of(end) if end is not None else (DATE_MAX, DATE_MAX)
    if lo is None or hi is None:
        return None
    return lo[0], hi[1]


def _period(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    found = _period_range(value)
    if found is not None:
        rows.date.append((param, grp, *found))


def _timing(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    """A Timing spans its first to last event; its repeat bounds (a Period) are a row of their own."""
    if type(value) is not dict:
        return
    events = value.get("event")
    ranges = [r for r in map(_range_of, events) if r is not None] if type(events) is list else []
    if ranges:
        rows.date.append((param, grp, min(r[0] for r in ranges), max(r[1] for r in ranges)))
    repeat = value.get("repeat")
    if type(repeat) is dict:
        _period(param, grp, repeat.get("boundsPeriod"), rows)


_DATE_CONVERTERS: dict[str, Convert] = {
    "date": _date,
    "dateTime": _date,
    "instant": _date,
    "Period": _period,
    "Timing": _timing,
}


# -- numbers and quantities ---------------------------------------------------------------------


def _number_range(value: Any) -> tuple[float, float] | None:
    """The implicit range of a JSON number (JSON keeps no trailing zeros: ``1.50`` reads as ``1.5``)."""
    if type(value) is int or type(value) is float:
        text = repr(value)
    elif type(value) is str:
        text = value
    else:
        return None
    try:
        return decimal_range(text)
    except ValueError:
        return None


def _number(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    found = _number_range(value)
    if found is not None:
        rows.number.append((param, grp, *found))


def _low_high(value: Any) -> tuple[float, float, dict[str, Any]] | None:
    """A Range's span (open ends infinite) and the quantity that names its unit."""
    if type(value) is not dict:
        return None
    low, high = value.get("low"), value.get("high")
    low = low if type(low) is dict else {}
    high = high if type(high) is dict else {}
    if "value" not in low and "value" not in high:
        return None
    lo = _number_range(low["value"]) if "value" in low else (-math.inf, -math.inf)
    hi = _number_range(high["value"]) if "value" in high else (math.inf, math.inf)
    if lo is None or hi is None:
        return None
    return lo[0], hi[1], low or high


def _number_from_range(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    found = _low_high(value)
    if found is not None:
        rows.number.append((param, grp, found[0], found[1]))


def _quantity(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is not dict:
        return
    found = _number_range(value.get("value"))
    if found is not None:
        system, code, unit = value.get("system"), value.get("code"), value.get("unit")
        rows.quantity.append((param, grp, _str_or_none(system), _str_or_none(code), _str_or_none(unit), *found))


def _money(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is not dict:
        return
    found = _number_range(value.get("value"))
    if found is not None:
        currency = _str_or_none(value.get("currency"))
        rows.quantity.append((param, grp, _ISO_4217 if currency else None, currency, None, *found))


def _quantity_range(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    found = _low_high(value)
    if found is not None:
        lo, hi, named = found
        system, code, unit = (_str_or_none(named.get(k)) for k in ("system", "code", "unit"))
        rows.quantity.append((param, grp, system, code, unit, lo, hi))


_NUMBER_CONVERTERS: dict[str, Convert] = {
    **{t: _number for t in ("decimal", "integer", "positiveInt", "unsignedInt")},
    "Range": _number_from_range,
}
_QUANTITY_CONVERTERS: dict[str, Convert] = {
    **{t: _quantity for t in _QUANTITY_TYPES},
    "Money": _money,
    "Range": _quantity_range,
}


# -- uris ---------------------------------------------------------------------------------------


def _uri(param: str, grp: int, value: Any, rows: IndexRows) -> None:
    if type(value) is str and value:
        rows.uri.append((param, grp, value))


_URI_CONVERTERS: dict[str, Convert] = {t: _uri for t in ("uri", "url", "canonical", "oid", "uuid")}
