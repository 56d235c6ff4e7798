"""Comparing instance values with the fixed[x], pattern[x], minValue[x] and maxValue[x] of a profile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from samen.fhir.primitives import date_range


def equals_fixed(fixed: Any, value: Any) -> bool:
    """fixed[x]: the value is exactly the fixed one (numbers by value: 1.0 is 1)."""
    if type(fixed) is dict:
        return (type(value) is dict and fixed.keys() == value.keys()
                and all(equals_fixed(fixed[k], value[k]) for k in fixed))
    if type(fixed) is list:
        return type(value) is list and len(fixed) == len(value) and all(map(equals_fixed, fixed, value))
    return _same_primitive(fixed, value)


def matches_pattern(pattern: Any, value: Any) -> bool:
    """pattern[x]: every property of the pattern is in the value with a matching value; every item
    of a pattern array is matched by some item of the value's array."""
    if type(pattern) is dict:
        return type(value) is dict and all(k in value and matches_pattern(pattern[k], value[k]) for k in pattern)
    if type(pattern) is list:
        return type(value) is list and all(any(matches_pattern(p, v) for v in value) for p in pattern)
    return _same_primitive(pattern, value)


def outside_range(value: Any, lowest: Any, highest: Any) -> str | None:
    """Why a value is outside minValue[x]..maxValue[x] (numbers, dates, Quantities of the same unit)."""
    for bound, below in ((lowest, True), (highest, False)):
        if bound is None:
            continue
        order = _order(value, bound)
        if order is not None and (order < 0 if below else order > 0):
            return f"{'below the minimum' if below else 'above the maximum'} {shown(bound)}"
    return None


def _order(value: Any, bound: Any) -> int | None:
    """-1, 0 or 1 comparing a value with a bound; None when they cannot be compared."""
    if type(value) is dict and type(bound) is dict:
        if value.get("code", value.get("unit")) != bound.get("code", bound.get("unit")):
            return None
        value, bound = value.get("value"), bound.get("value")
    numbers = (int, float, Decimal)
    if type(value) is not bool and isinstance(value, numbers) and isinstance(bound, numbers):
        a, b = Decimal(str(value)), Decimal(str(bound))
        return (a > b) - (a < b)
    if type(value) is str and type(bound) is str:
        try:
            (value_lo, value_hi), (bound_lo, bound_hi) = date_range(value), date_range(bound)
        except ValueError:
            return (value > bound) - (value < bound)  # times compare as text
        return -1 if value_hi < bound_lo else 1 if value_lo > bound_hi else 0
    return None


def _same_primitive(expected: Any, value: Any) -> bool:
    if type(expected) is bool or type(value) is bool:
        return expected is value
    if isinstance(expected, (int, float, Decimal)) and isinstance(value, (int, float, Decimal)):
        return Decimal(str(expected)) == Decimal(str(value))
    return expected == value


def shown(value: Any, limit: int = 120) -> str:
    """A value as it appears in a message (JSON-like, shortened)."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
