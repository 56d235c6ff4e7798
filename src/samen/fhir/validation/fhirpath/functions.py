"""The FHIRPath function library of the compiler (simple functions and builders with arguments)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from samen.fhir.validation.fhirpath.items import (
    FALSE,
    TRUE,
    Env,
    Evaluate,
    EvaluationError,
    Item,
    boolean,
    distinct,
    string_of,
    truth,
    values_equal,
)

if TYPE_CHECKING:
    from samen.fhir.validation.fhirpath.compiler import Compiler

# A builder takes the compiler and the compiled arguments and returns the function's Evaluate.
# Arguments of iterating functions (where, all, exists, select) are evaluated once per input item;
# those of the others against $this, or the expression's %context outside any iteration.

FunctionBuilder = Callable[["Compiler", list[Evaluate]], Evaluate]
Simple = Callable[[list[Item]], list[Item]]


def _per_item(criteria: Evaluate, items: list[Item], env: Env) -> list[tuple[Item, bool | None]]:
    """Evaluate ``criteria`` with each item as focus and $this (FHIRPath's iterating functions)."""
    saved, saved_index = env.this, env.index
    results = []
    try:
        for position, item in enumerate(items):
            env.this, env.index = item, position
            results.append((item, truth(criteria([item], env))))
    finally:
        env.this, env.index = saved, saved_index
    return results


def argument_focus(env: Env) -> list[Item]:
    return [env.this] if env.this is not None else [env.context]


def _where(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
    criteria = args[0]
    return lambda items, env: [item for item, ok in _per_item(criteria, items, env) if ok]


def _exists(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
    if not args:
        return lambda items, env: TRUE if items else FALSE
    criteria = args[0]
    return lambda items, env: TRUE if any(ok for _, ok in _per_item(criteria, items, env)) else FALSE


def _all(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
    criteria = args[0]
    return lambda items, env: TRUE if all(ok for _, ok in _per_item(criteria, items, env)) else FALSE


def _select(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
    projection = args[0]

    def select(items: list[Item], env: Env) -> list[Item]:
        out: list[Item] = []
        saved = env.this
        try:
            for item in items:
                env.this = item
                out += projection([item], env)
        finally:
            env.this = saved
        return out

    return select


def _iif(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
    condition, then = args[0], args[1]
    otherwise = args[2] if len(args) == 3 else (lambda items, env: [])
    return lambda items, env: then(items, env) if truth(condition(items, env)) else otherwise(items, env)


def _with_argument(combine: Callable[[list[Item], list[Item]], list[Item]]) -> FunctionBuilder:
    """A function of the input and one argument collection."""

    def build(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
        other = args[0]
        return lambda items, env: combine(items, other(argument_focus(env), env))

    return build


def _with_strings(operation: Callable[..., Any], result_type: str) -> FunctionBuilder:
    """A function of a single input string and literal-like arguments; empty in, empty out."""

    def build(compiler: Compiler, args: list[Evaluate]) -> Evaluate:
        def run(items: list[Item], env: Env) -> list[Item]:
            text = string_of(items, "string function")
            if text is None:
                return []
            values = []
            for arg in args:
                selected = arg(argument_focus(env), env)
                if not selected:
                    return []
                values.append(selected[0][0])
            result = operation(text, *values)
            return [] if result is None else [(result, result_type, result_type, None)]

        return run

    return build


def _subset(a: list[Item], b: list[Item]) -> list[Item]:
    return boolean(all(any(values_equal(x, y) is True for y in b) for x in a))


def _intersect(a: list[Item], b: list[Item]) -> list[Item]:
    return distinct([x for x in a if any(values_equal(x, y) is True for y in b)])


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


def _substring(text: str, start: int, length: int | None = None) -> str | None:
    if start < 0 or start >= len(text):
        return None
    return text[start:] if length is None else text[start : start + length]


def _to_integer(items: list[Item]) -> list[Item]:
    if len(items) != 1:
        return []
    value = items[0][0]
    if type(value) is int:
        return [items[0]]
    if type(value) is str and re.fullmatch(r"[+-]?\d+", value):
        return [(int(value), "integer", "integer", None)]
    if type(value) is bool:
        return [(int(value), "integer", "integer", None)]
    return []


def _to_string(items: list[Item]) -> list[Item]:
    if len(items) != 1 or type(items[0][0]) in (dict, list) or items[0][0] is None:
        return []
    value = items[0][0]
    text = ("true" if value else "false") if type(value) is bool else str(value)
    return [(text, "string", "string", None)]


def _has_value(items: list[Item]) -> list[Item]:
    return boolean(len(items) == 1 and items[0][0] is not None and type(items[0][0]) not in (dict, list))


def _not(items: list[Item]) -> list[Item]:
    value = truth(items)
    return [] if value is None else boolean(not value)


def _single(items: list[Item]) -> list[Item]:
    if len(items) > 1:
        raise EvaluationError("single() on several items")
    return items


def _text_function(items: list[Item], name: str, operation: Callable[[str], Any], result_type: str) -> list[Item]:
    text = string_of(items, name)
    return [] if text is None else [(operation(text), result_type, result_type, None)]


def _now(items: list[Item]) -> list[Item]:
    return [(datetime.now(timezone.utc).isoformat(timespec="seconds"), "dateTime", "dateTime", None)]


def _today(items: list[Item]) -> list[Item]:
    return [(datetime.now(timezone.utc).date().isoformat(), "date", "date", None)]


SIMPLE_FUNCTIONS: dict[str, Simple] = {
    "empty": lambda items: FALSE if items else TRUE,
    "not": _not,
    "count": lambda items: [(len(items), "integer", "integer", None)],
    "first": lambda items: items[:1],
    "last": lambda items: items[-1:],
    "tail": lambda items: items[1:],
    "single": _single,
    "distinct": distinct,
    "isDistinct": lambda items: boolean(len(distinct(items)) == len(items)),
    "hasValue": _has_value,
    "allTrue": lambda items: boolean(all(i[0] is True for i in items)),
    "allFalse": lambda items: boolean(all(i[0] is False for i in items)),
    "anyTrue": lambda items: boolean(any(i[0] is True for i in items)),
    "anyFalse": lambda items: boolean(any(i[0] is False for i in items)),
    "toInteger": _to_integer,
    "toString": _to_string,
    "length": lambda items: _text_function(items, "length", len, "integer"),
    "upper": lambda items: _text_function(items, "upper", str.upper, "string"),
    "lower": lambda items: _text_function(items, "lower", str.lower, "string"),
    "now": _now,
    "today": _today,
    # The narrative rules txt-1 and txt-2 are checked natively (invariants.py); as FHIRPath they hold.
    "htmlChecks": lambda items: TRUE,
}

FUNCTION_BUILDERS: dict[str, tuple[tuple[int, ...], FunctionBuilder]] = {
    "where": ((1,), _where),
    "exists": ((0, 1), _exists),
    "all": ((1,), _all),
    "select": ((1,), _select),
    "iif": ((2, 3), _iif),
    "combine": ((1,), _with_argument(lambda a, b: a + b)),
    "union": ((1,), _with_argument(lambda a, b: distinct(a + b))),
    "intersect": ((1,), _with_argument(_intersect)),
    "exclude": ((1,), _with_argument(lambda a, b: [x for x in a if not any(values_equal(x, y) is True for y in b)])),
    "subsetOf": ((1,), _with_argument(_subset)),
    "supersetOf": ((1,), _with_argument(lambda a, b: _subset(b, a))),
    "startsWith": ((1,), _with_strings(lambda text, prefix: text.startswith(prefix), "boolean")),
    "endsWith": ((1,), _with_strings(lambda text, suffix: text.endswith(suffix), "boolean")),
    "contains": ((1,), _with_strings(lambda text, part: part in text, "boolean")),
    "indexOf": ((1,), _with_strings(lambda text, part: text.find(part), "integer")),
    "matches": ((1,), _with_strings(lambda text, pattern: _regex(pattern).fullmatch(text) is not None, "boolean")),
    "replaceMatches": ((2,), _with_strings(lambda text, pattern, by: _regex(pattern).sub(by, text), "string")),
    "replace": ((2,), _with_strings(lambda text, old, new: text.replace(old, new), "string")),
    "substring": ((1, 2), _with_strings(_substring, "string")),
    "skip": ((1,), _with_argument(lambda a, n: a[n[0][0]:] if n else [])),
    "take": ((1,), _with_argument(lambda a, n: a[: n[0][0]] if n else [])),
}
