"""Comparing instance values with the fixed[x] and pattern[x] values of a profile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def equals_fixed(fixed: Any, value: Any) -> bool:
    """fixed[x]: the value is exactly the fixed one (numbers by value: 1.0 is 1)."""
    if type(fixed) is dict:
        return type(value) is dict and fixed.keys() == value.keys() and all(equals_fixed(fixed[k], value[k]) for k in fixed)
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
