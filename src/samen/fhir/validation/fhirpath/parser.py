"""Parsing FHIRPath into a tree of tuples, and what an expression reads from its focus."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from samen.fhir.validation.fhirpath.items import Item

class Unsupported(ValueError):
    """The expression uses FHIRPath this compiler does not implement."""


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<date>@\d{4}(?:-\d{2}(?:-\d{2})?)?(?:T[\d:.]*(?:Z|[+-]\d{2}:\d{2})?)?|@T[\d:.]+)"
    r"|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
    r"|(?P<var>%[A-Za-z_][A-Za-z0-9_]*|%`[^`]+`|%'[^']+'|\$this|\$index|\$total)"
    r"|(?P<op>!=|<=|>=|!~|[.()\[\]|=,<>~+\-*/&{}]))"
)
_STRING_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BINARY_LEVELS: list[frozenset[str]] = [
    frozenset({"implies"}),
    frozenset({"or", "xor"}),
    frozenset({"and"}),
    frozenset({"in", "contains"}),
    frozenset({"=", "~", "!=", "!~"}),
    frozenset({"<", ">", "<=", ">="}),
    frozenset({"|"}),
    frozenset({"is", "as"}),
    frozenset({"+", "-", "&"}),
    frozenset({"*", "/", "div", "mod"}),
]
_WORD_OPERATORS = frozenset({"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"})


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_STRING_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _tokens(expression: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Unsupported(f"cannot read FHIRPath at {text[position:position + 20]!r}")
        position = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "string":
            tokens.append(("string", _unescape(raw[1:-1])))
        elif kind == "ident":
            if raw.startswith("`"):
                tokens.append(("ident", raw[1:-1]))
            else:
                tokens.append(("word" if raw in _WORD_OPERATORS else "ident", raw))
        elif kind == "var" and raw[1:2] in ("`", "'"):
            tokens.append(("var", "%" + raw[2:-1]))
        else:
            tokens.append((kind, raw))
    tokens.append(("end", None))
    return tokens


class Parser:
    """Recursive descent over FHIRPath's precedence levels into tuples."""

    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.position = 0

    def parse(self) -> tuple:
        tree = self.binary(0)
        if self.peek()[0] != "end":
            raise Unsupported(f"unexpected {self.peek()[1]!r}")
        return tree

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.position]

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        kind, value = self.take()
        if value != text:
            raise Unsupported(f"expected {text!r}, found {value!r}")

    def binary(self, level: int) -> tuple:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        operators = _BINARY_LEVELS[level]
        while True:
            kind, value = self.peek()
            if kind not in ("op", "word") or value not in operators:
                return left
            self.take()
            if value in ("is", "as"):
                left = ("type", value, left, self.type_name())
            else:
                left = ("op", value, left, self.binary(level + 1))

    def type_name(self) -> str:
        kind, name = self.take()
        if kind != "ident":
            raise Unsupported(f"expected a type name, found {name!r}")
        while self.peek()[1] == ".":
            self.take()
            name = self.take()[1]
        return name

    def unary(self) -> tuple:
        kind, value = self.peek()
        if kind == "op" and value in ("-", "+"):
            self.take()
            operand = self.unary()
            return ("negate", operand) if value == "-" else operand
        return self.postfix(self.term())

    def postfix(self, tree: tuple) -> tuple:
        while True:
            value = self.peek()[1]
            if value == ".":
                self.take()
                tree = ("dot", tree, self.invocation())
            elif value == "[":
                self.take()
                index = self.binary(0)
                self.expect("]")
                tree = ("index", tree, index)
            else:
                return tree

    def invocation(self) -> tuple:
        kind, name = self.take()
        if kind not in ("ident", "word"):
            raise Unsupported(f"expected a name, found {name!r}")
        if self.peek()[1] == "(":
            return ("call", name, self.arguments())
        return ("member", name)

    def arguments(self) -> tuple:
        self.expect("(")
        args: list[tuple] = []
        if self.peek()[1] != ")":
            args.append(self.binary(0))
            while self.peek()[1] == ",":
                self.take()
                args.append(self.binary(0))
        self.expect(")")
        return tuple(args)

    def term(self) -> tuple:
        kind, value = self.peek()
        if kind == "string":
            self.take()
            return ("literal", ((value, "string", "string", None),))
        if kind == "number":
            self.take()
            if self.peek()[0] == "string" or self.peek()[1] in _CALENDAR_UNITS:
                raise Unsupported("quantity literals")
            number = int(value) if "." not in value else Decimal(value)
            return ("literal", ((number, "integer" if type(number) is int else "decimal", "", None),))
        if kind == "date":
            self.take()
            return ("literal", _date_literal(value[1:]))
        if kind == "var":
            self.take()
            return ("var", value)
        if kind == "ident":
            if value in ("true", "false"):
                self.take()
                return ("literal", ((value == "true", "boolean", "boolean", None),))
            return self.invocation()
        if kind == "word" and self.tokens[self.position + 1][1] == "(":  # contains(...) and friends as functions
            return self.invocation()
        if value == "(":
            self.take()
            tree = self.binary(0)
            self.expect(")")
            return tree
        if value == "{":
            self.take()
            self.expect("}")
            return ("literal", ())
        raise Unsupported(f"unexpected {value!r}")


_CALENDAR_UNITS = frozenset(
    {"year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
     "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"}
)


def _date_literal(text: str) -> tuple[Item, ...]:
    if text.startswith("T"):
        return ((text[1:], "time", "time", None),)
    return ((text, "dateTime" if "T" in text else "date", "", None),)


CONSTANTS = {  # the environment variables FHIRPath defines for FHIR
    "%ucum": "http://unitsofmeasure.org",
    "%sct": "http://snomed.info/sct",
    "%loinc": "http://loinc.org",
}


def focus_names(expression: str) -> frozenset[str] | None:
    """The element names an expression reads from its focus, or None when it reads the focus
    otherwise (``$this``, ``hasValue()``, ``%resource``...). Arguments of iterating functions
    (``where``, ``all``...) only run on the items selected before them, so they do not count."""
    try:
        return _reads(Parser(expression).parse(), True)
    except Unsupported:
        return None


_ITERATING = frozenset({"where", "all", "exists", "select", "repeat"})


def _reads(tree: tuple, at_focus: bool) -> frozenset[str] | None:
    kind = tree[0]
    parts: list[frozenset[str] | None]
    if kind == "literal":
        return frozenset()
    if kind == "member":
        return frozenset({tree[1]}) if at_focus else frozenset()
    if kind == "var":
        return frozenset() if tree[1] in CONSTANTS or tree[1].startswith(("%vs-", "%ext-")) else None
    if kind == "call":
        name, args = tree[1], tree[2]
        if at_focus and name != "extension":
            return None
        own = frozenset({"extension"}) if at_focus else frozenset()
        if name in _ITERATING or name == "trace":  # trace() only logs its arguments
            return own
        parts = [own, *(_reads(arg, True) for arg in args)]
    elif kind == "dot":
        parts = [_reads(tree[1], at_focus), _reads(tree[2], False)]
    elif kind == "index":
        parts = [_reads(tree[1], at_focus), _reads(tree[2], True)]
    elif kind in ("negate", "type"):
        parts = [_reads(tree[-1] if kind == "negate" else tree[2], at_focus)]
    else:  # a binary operator
        parts = [_reads(tree[2], at_focus), _reads(tree[3], at_focus)]
    if any(part is None for part in parts):
        return None
    return frozenset().union(*parts)  # type: ignore[arg-type]
