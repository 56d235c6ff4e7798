"""A FHIRPath compiler for the invariants of StructureDefinitions, working on FHIR JSON directly.

Invariants run on every element of every write, so each expression is parsed once into nested
closures. fhirpathpy would cost 15-50 us per evaluation and lacks ``hasValue()``, which a dozen R4
invariants use; this compiler covers the FHIRPath the R4 core and the Dutch profiles write (paths,
choice types, three-valued logic, equality and ordering of FHIR primitives, the collection, string
and type functions, ``extension(url)``, ``resolve()`` of contained and bundled resources,
``memberOf`` through the terminology service). An expression outside it raises :class:`Unsupported`
at compile time, so the caller can use another engine.

An item is ``(value, type, context, sidecar)``: the JSON value, its FHIR type code, where the model
describes its children (a type name or a backbone path), and for primitives the ``_name`` object
holding their id and extensions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from samen.fhir.model import Model
from samen.fhir.primitives import date_range
from samen.fhir.validation.bindings import CodeValidator

Item = tuple[Any, str, str, Any]
Evaluate = Callable[[list[Item], "Env"], list[Item]]


class Unsupported(ValueError):
    """The expression uses FHIRPath this compiler does not implement."""


class EvaluationError(ValueError):
    """The expression cannot be evaluated on this input (e.g. a boolean operator on several items)."""


@dataclass(slots=True)
class Env:
    """The environment of one evaluation: FHIRPath's %resource, %rootResource, %context and $this."""

    resource: Item
    root: Item
    context: Item
    terminology: CodeValidator | None = None
    this: Item | None = None
    index: int = 0
    resource_path: str = ""  # where %resource and %rootResource are in the instance, for issues
    root_path: str = ""


def item_of(value: Any, fhir_type: str, context: str | None = None, sidecar: Any = None) -> Item:
    """The item for a JSON value of a known FHIR type (a resource's type is read from the value)."""
    if fhir_type == "Resource" and type(value) is dict:
        fhir_type = context = value.get("resourceType", "Resource")
    return (value, fhir_type, context if context is not None else fhir_type, sidecar)


def resource_item(resource: dict[str, Any]) -> Item:
    resource_type = resource.get("resourceType", "Resource")
    return (resource, resource_type, resource_type, None)


@lru_cache(maxsize=4096)
def compile_expression(model: Model, expression: str) -> Evaluate:
    """The compiled expression: call it with the input items and an :class:`Env`."""
    return _Compiler(model).compile(_Parser(expression).parse())


def truth(items: list[Item]) -> bool | None:
    """FHIRPath's singleton evaluation of a collection as a boolean (None for empty)."""
    if not items:
        return None
    if len(items) > 1:
        raise EvaluationError("a boolean was expected, found a collection of several items")
    value = items[0][0]
    return value if type(value) is bool else True


def focus_names(expression: str) -> frozenset[str] | None:
    """The element names an expression reads from its focus, or None when it reads the focus
    otherwise (``$this``, ``hasValue()``, ``%resource``...). Arguments of iterating functions
    (``where``, ``all``...) only run on the items selected before them, so they do not count."""
    try:
        return _reads(_Parser(expression).parse(), True)
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
        return frozenset() if tree[1] in _CONSTANTS or tree[1].startswith(("%vs-", "%ext-")) else None
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


# -- parsing ------------------------------------------------------------------------------------

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


class _Parser:
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


# -- evaluation helpers -------------------------------------------------------------------------

_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_STRING_TYPES = frozenset({"string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "xhtml"})
_INTEGER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt"})
_QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"})
_SYSTEM_TYPES = {
    "String": _STRING_TYPES,
    "Integer": _INTEGER_TYPES,
    "Decimal": frozenset({"decimal"}),
    "Boolean": frozenset({"boolean"}),
    "Date": frozenset({"date"}),
    "DateTime": frozenset({"dateTime", "instant"}),
    "Time": frozenset({"time"}),
    "Quantity": _QUANTITY_TYPES,
}


def _type_matches(model: Model, fhir_type: str, name: str) -> bool:
    if fhir_type == name:
        return True
    if name in _SYSTEM_TYPES:
        return fhir_type in _SYSTEM_TYPES[name]
    if name == "Quantity":
        return fhir_type in _QUANTITY_TYPES
    if name in ("Resource", "DomainResource"):
        return fhir_type in model.resource_types and (name == "Resource" or fhir_type not in ("Bundle", "Binary", "Parameters"))
    if name in ("uri", "string"):
        return fhir_type in (("url", "canonical", "oid", "uuid") if name == "uri" else ("code", "id", "markdown"))
    return False


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _values_equal(a: Item, b: Item) -> bool | None:
    """FHIRPath ``=`` of two single items; None when undecidable (dates of different precision)."""
    va, vb = a[0], b[0]
    if a[1] in _DATE_TYPES or b[1] in _DATE_TYPES:
        if type(va) is str and type(vb) is str and len(va) != len(vb) and (len(va) < 11 or len(vb) < 11):
            return None
    if type(va) is bool or type(vb) is bool:
        return type(va) is type(vb) and va == vb
    if isinstance(va, (int, float, Decimal)) and isinstance(vb, (int, float, Decimal)):
        return _number(va) == _number(vb)
    return va == vb


def _compare(a: Item, b: Item) -> int | None:
    """-1, 0 or 1 for two ordered items; None when the order is undecidable."""
    va, vb = a[0], b[0]
    if isinstance(va, (int, float, Decimal)) and isinstance(vb, (int, float, Decimal)) and type(va) is not bool:
        va, vb = _number(va), _number(vb)
        return (va > vb) - (va < vb)
    if type(va) is str and type(vb) is str:
        if a[1] in _DATE_TYPES or b[1] in _DATE_TYPES:
            return _compare_dates(va, vb)
        return (va > vb) - (va < vb)
    if type(va) is dict and type(vb) is dict and a[1] in _QUANTITY_TYPES and b[1] in _QUANTITY_TYPES:
        if va.get("code", va.get("unit")) != vb.get("code", vb.get("unit")):
            return None
        return _compare((va.get("value"), "decimal", "", None), (vb.get("value"), "decimal", "", None))
    raise EvaluationError(f"cannot compare {a[1]} with {b[1]}")


def _compare_dates(a: str, b: str) -> int | None:
    try:
        a_lo, a_hi = date_range(a)
        b_lo, b_hi = date_range(b)
    except ValueError:
        return None
    if a_hi < b_lo:
        return -1
    if b_hi < a_lo:
        return 1
    if (a_lo, a_hi) == (b_lo, b_hi):
        return 0
    return None


def _distinct(items: list[Item]) -> list[Item]:
    out: list[Item] = []
    for item in items:
        if not any(_values_equal(item, seen) is True and item[1] == seen[1] for seen in out):
            out.append(item)
    return out


def _string(items: list[Item], what: str) -> str | None:
    if not items:
        return None
    if len(items) > 1:
        raise EvaluationError(f"{what}: a single value was expected")
    value = items[0][0]
    if type(value) is not str:
        raise EvaluationError(f"{what}: a string was expected")
    return value


def _boolean(value: bool | None) -> list[Item]:
    return [] if value is None else [(value, "boolean", "boolean", None)]


_TRUE = [(True, "boolean", "boolean", None)]
_FALSE = [(False, "boolean", "boolean", None)]


# -- compiling ----------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, model: Model) -> None:
        self.model = model
        self._json_index: dict[str, dict[str, tuple[str, str]]] = {}

    def compile(self, tree: tuple) -> Evaluate:
        kind = tree[0]
        if kind == "literal":
            constant = list(tree[1])
            return lambda items, env: constant
        if kind == "member":
            return self.member(tree[1])
        if kind == "call":
            return self.call(tree[1], tree[2])
        if kind == "dot":
            first, second = self.compile(tree[1]), self.compile(tree[2])
            return lambda items, env: second(first(items, env), env)
        if kind == "index":
            source, index = self.compile(tree[1]), self.compile(tree[2])

            def at(items: list[Item], env: Env) -> list[Item]:
                selected, position = source(items, env), index(items, env)
                if not position:
                    return []
                n = position[0][0]
                return [selected[n]] if type(n) is int and 0 <= n < len(selected) else []

            return at
        if kind == "var":
            return self.variable(tree[1])
        if kind == "negate":
            operand = self.compile(tree[1])
            return lambda items, env: [(-v, t, c, s) for v, t, c, s in operand(items, env)]
        if kind == "type":
            return self.type_operator(tree[1], self.compile(tree[2]), tree[3])
        if kind == "op":
            return self.operator(tree[1], self.compile(tree[2]), self.compile(tree[3]))
        raise Unsupported(f"unknown expression {kind}")

    # -- paths ----------------------------------------------------------------------------------

    def member(self, name: str) -> Evaluate:
        model = self.model

        def navigate(items: list[Item], env: Env) -> list[Item]:
            out: list[Item] = []
            for item in items:
                value, fhir_type, context, sidecar = item
                if type(value) is dict:
                    info = model.element(context, name) if context else None
                    if info is None:
                        if name == fhir_type:
                            out.append(item)
                        elif not context and name in value:
                            _add(out, value[name], None, "", "")
                        continue
                    if info.choice:
                        for type_code in info.types:
                            key = name + type_code[0].upper() + type_code[1:]
                            if key in value or "_" + key in value:
                                _add(out, value.get(key), value.get("_" + key), type_code, type_code)
                    else:
                        type_code = info.types[0] if info.types else "BackboneElement"
                        _add(out, value.get(name), value.get("_" + name), type_code, info.context)
                elif type(sidecar) is dict and name in ("extension", "id"):
                    _add(out, sidecar.get(name), None, "Extension" if name == "extension" else "string",
                         "Extension" if name == "extension" else "string")
            return out

        return navigate

    def variable(self, name: str) -> Evaluate:
        if name == "$this":
            return lambda items, env: [env.this] if env.this is not None else items
        if name == "$index":
            return lambda items, env: [(env.index, "integer", "integer", None)]
        if name == "%resource":
            return lambda items, env: [env.resource]
        if name == "%rootResource":
            return lambda items, env: [env.root]
        if name == "%context":
            return lambda items, env: [env.context]
        constant = _CONSTANTS.get(name)
        if constant is None:
            if name.startswith("%vs-"):
                constant = "http://hl7.org/fhir/ValueSet/" + name[4:]
            elif name.startswith("%ext-"):
                constant = "http://hl7.org/fhir/StructureDefinition/" + name[5:]
            else:
                raise Unsupported(f"unknown variable {name}")
        result = [(constant, "string", "string", None)]
        return lambda items, env: result

    def json_children(self, item: Item) -> list[Item]:
        """Every child of an item, typed by the model (FHIRPath ``children()``)."""
        value, _type, context, sidecar = item
        out: list[Item] = []
        if type(value) is not dict:
            if type(sidecar) is dict:
                _add(out, sidecar.get("extension"), None, "Extension", "Extension")
            return out
        index = self.json_index(context)
        for key, raw in value.items():
            if key[0] == "_":
                if key[1:] not in value and key[1:] in index:
                    type_code, child_context = index[key[1:]]
                    _add(out, None, raw, type_code, child_context)
                continue
            if key == "resourceType":
                continue
            type_code, child_context = index.get(key, ("", ""))
            _add(out, raw, value.get("_" + key), type_code, child_context)
        return out

    def json_index(self, context: str) -> dict[str, tuple[str, str]]:
        index = self._json_index.get(context)
        if index is None:
            index = {}
            for info in self.model.children(context):
                for json_name, type_code in info.json_names():
                    child_context = info.context if not info.choice else type_code
                    index[json_name] = (type_code or "BackboneElement", child_context)
            self._json_index[context] = index
        return index

    # -- operators ------------------------------------------------------------------------------

    def type_operator(self, operator: str, operand: Evaluate, name: str) -> Evaluate:
        model = self.model
        if operator == "as":
            return lambda items, env: [i for i in operand(items, env) if _type_matches(model, i[1], name)]

        def is_type(items: list[Item], env: Env) -> list[Item]:
            selected = operand(items, env)
            if not selected:
                return []
            if len(selected) > 1:
                raise EvaluationError("'is' needs a single item")
            return _TRUE if _type_matches(model, selected[0][1], name) else _FALSE

        return is_type

    def operator(self, op: str, left: Evaluate, right: Evaluate) -> Evaluate:
        if op in ("and", "or", "xor", "implies"):
            return _logic(op, left, right)
        if op in ("=", "!="):
            negate = op == "!="

            def equals(items: list[Item], env: Env) -> list[Item]:
                a, b = left(items, env), right(items, env)
                if not a or not b:
                    return []
                if len(a) != len(b):
                    return _TRUE if negate else _FALSE
                result: bool | None = True
                for x, y in zip(a, b):
                    same = _values_equal(x, y)
                    if same is None:
                        return []
                    if not same:
                        result = False
                        break
                return _boolean((not result) if negate else result)

            return equals
        if op in ("~", "!~"):
            negate = op == "!~"

            def equivalent(items: list[Item], env: Env) -> list[Item]:
                a, b = left(items, env), right(items, env)
                same = len(a) == len(b) and all(_equivalent(x, y) for x, y in zip(a, b))
                return _boolean(same != negate)

            return equivalent
        if op in ("<", ">", "<=", ">="):
            accept = {"<": (-1,), ">": (1,), "<=": (-1, 0), ">=": (1, 0)}[op]

            def compare(items: list[Item], env: Env) -> list[Item]:
                a, b = left(items, env), right(items, env)
                if not a or not b:
                    return []
                if len(a) > 1 or len(b) > 1:
                    raise EvaluationError(f"'{op}' needs single items")
                order = _compare(a[0], b[0])
                return [] if order is None else _boolean(order in accept)

            return compare
        if op == "|":
            return lambda items, env: _distinct(left(items, env) + right(items, env))
        if op in ("in", "contains"):
            element, collection = (left, right) if op == "in" else (right, left)

            def member_of(items: list[Item], env: Env) -> list[Item]:
                wanted = element(items, env)
                if not wanted:
                    return []
                if len(wanted) > 1:
                    raise EvaluationError(f"'{op}' needs a single item")
                return _boolean(any(_values_equal(wanted[0], x) is True for x in collection(items, env)))

            return member_of
        if op == "&":
            def concatenate(items: list[Item], env: Env) -> list[Item]:
                a, b = _string(left(items, env), "&") or "", _string(right(items, env), "&") or ""
                return [(a + b, "string", "string", None)]

            return concatenate
        return _arithmetic(op, left, right)

    def call(self, name: str, args: tuple) -> Evaluate:
        if name in ("ofType", "is", "as"):
            if len(args) != 1 or args[0][0] != "member":
                raise Unsupported(f"{name}() needs a type name")
            type_name = args[0][1]
            if name == "is":
                return self.type_operator("is", lambda items, env: items, type_name)
            return self.type_operator("as", lambda items, env: items, type_name)
        if name == "trace":
            return lambda items, env: items
        compiled = [self.compile(arg) for arg in args]
        if name in _SIMPLE:
            if compiled:
                raise Unsupported(f"{name}() takes no arguments")
            simple = _SIMPLE[name]
            return lambda items, env: simple(items)
        if name in self.special:
            return self.special[name](compiled)
        if name not in _BUILDERS:
            raise Unsupported(f"function {name}()")
        arities, builder = _BUILDERS[name]
        if len(compiled) not in arities:
            raise Unsupported(f"{name}() with {len(compiled)} arguments")
        return builder(self, compiled)

    @property
    def special(self) -> dict[str, Callable[[list[Evaluate]], Evaluate]]:
        """Functions that need the model or the environment."""
        return {
            "children": self.children,
            "descendants": self.descendants,
            "extension": self.extension,
            "resolve": self.resolve,
            "memberOf": self.member_of,
        }

    def children(self, args: list[Evaluate]) -> Evaluate:
        return lambda items, env: [child for item in items for child in self.json_children(item)]

    def descendants(self, args: list[Evaluate]) -> Evaluate:
        def descendants(items: list[Item], env: Env) -> list[Item]:
            out: list[Item] = []
            pending = [child for item in items for child in self.json_children(item)]
            while pending:
                item = pending.pop()
                out.append(item)
                pending.extend(self.json_children(item))
            return out

        return descendants

    def extension(self, args: list[Evaluate]) -> Evaluate:
        if len(args) != 1:
            raise Unsupported("extension() needs a url")
        extensions, url = self.member("extension"), args[0]

        def extension(items: list[Item], env: Env) -> list[Item]:
            wanted = _string(url(_argument_focus(env), env), "extension")
            return [e for e in extensions(items, env) if type(e[0]) is dict and e[0].get("url") == wanted]

        return extension

    def resolve(self, args: list[Evaluate]) -> Evaluate:
        def resolve(items: list[Item], env: Env) -> list[Item]:
            out = []
            for value, _type, _context, sidecar in items:
                reference = value.get("reference") if type(value) is dict else value
                if type(reference) is str:
                    target = resolve_reference(reference, env.resource[0], env.root[0])
                    if target is not None:
                        out.append(resource_item(target))
            return out

        return resolve

    def member_of(self, args: list[Evaluate]) -> Evaluate:
        if len(args) != 1:
            raise Unsupported("memberOf() needs a value set")
        value_set = args[0]

        def member_of(items: list[Item], env: Env) -> list[Item]:
            url = _string(value_set(_argument_focus(env), env), "memberOf")
            if url is None or env.terminology is None or len(items) != 1:
                return []
            return _boolean(code_in_value_set(env.terminology, url, items[0]))

        return member_of


def _add(out: list[Item], raw: Any, sidecar: Any, type_code: str, context: str) -> None:
    """Append the items of one JSON property (a value or array, with its ``_name`` sidecar)."""
    if type(raw) is list:
        sidecars = sidecar if type(sidecar) is list else ()
        for position, value in enumerate(raw):
            side = sidecars[position] if position < len(sidecars) else None
            if value is not None or side is not None:
                out.append(item_of(value, type_code, context, side))
    elif raw is None:
        if type(sidecar) is list:
            out.extend(item_of(None, type_code, context, side) for side in sidecar if side is not None)
        elif sidecar is not None:
            out.append(item_of(None, type_code, context, sidecar))
    else:
        out.append(item_of(raw, type_code, context, sidecar))


def _equivalent(a: Item, b: Item) -> bool:
    va, vb = a[0], b[0]
    if type(va) is str and type(vb) is str:
        return " ".join(va.lower().split()) == " ".join(vb.lower().split())
    return _values_equal(a, b) is True


def _logic(op: str, left: Evaluate, right: Evaluate) -> Evaluate:
    if op == "and":
        def both(items: list[Item], env: Env) -> list[Item]:
            a = truth(left(items, env))
            if a is False:
                return _FALSE
            b = truth(right(items, env))
            if b is False:
                return _FALSE
            return _TRUE if a is True and b is True else []

        return both
    if op == "or":
        def either(items: list[Item], env: Env) -> list[Item]:
            a = truth(left(items, env))
            if a is True:
                return _TRUE
            b = truth(right(items, env))
            if b is True:
                return _TRUE
            return _FALSE if a is False and b is False else []

        return either
    if op == "xor":
        def exclusive(items: list[Item], env: Env) -> list[Item]:
            a, b = truth(left(items, env)), truth(right(items, env))
            return [] if a is None or b is None else _boolean(a != b)

        return exclusive

    def implies(items: list[Item], env: Env) -> list[Item]:
        a = truth(left(items, env))
        if a is False:
            return _TRUE
        b = truth(right(items, env))
        if b is True:
            return _TRUE
        return _FALSE if a is True and b is False else []

    return implies


def _arithmetic(op: str, left: Evaluate, right: Evaluate) -> Evaluate:
    def calculate(items: list[Item], env: Env) -> list[Item]:
        a, b = left(items, env), right(items, env)
        if not a or not b:
            return []
        if len(a) > 1 or len(b) > 1:
            raise EvaluationError(f"'{op}' needs single items")
        x, y = a[0][0], b[0][0]
        if op == "+" and type(x) is str and type(y) is str:
            return [(x + y, "string", "string", None)]
        if not isinstance(x, (int, float, Decimal)) or not isinstance(y, (int, float, Decimal)):
            raise EvaluationError(f"'{op}' needs numbers")
        x, y = _number(x), _number(y)
        if op in ("/", "div", "mod") and y == 0:
            return []
        result = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                  "div": lambda: x // y, "mod": lambda: x % y}[op]()
        return [(result, "integer" if type(result) is int else "decimal", "", None)]

    return calculate


_CONSTANTS = {
    "%ucum": "http://unitsofmeasure.org",
    "%sct": "http://snomed.info/sct",
    "%loinc": "http://loinc.org",
}


# -- functions ----------------------------------------------------------------------------------
# A builder takes the compiler and the compiled arguments and returns the function's Evaluate.
# Arguments of iterating functions (where, all, exists, select) are evaluated once per input item;
# those of the others against $this, or the expression's %context outside any iteration.

FunctionBuilder = Callable[[_Compiler, list[Evaluate]], Evaluate]
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


def _argument_focus(env: Env) -> list[Item]:
    return [env.this] if env.this is not None else [env.context]


def _where(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
    criteria = args[0]
    return lambda items, env: [item for item, ok in _per_item(criteria, items, env) if ok]


def _exists(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
    if not args:
        return lambda items, env: _TRUE if items else _FALSE
    criteria = args[0]
    return lambda items, env: _TRUE if any(ok for _, ok in _per_item(criteria, items, env)) else _FALSE


def _all(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
    criteria = args[0]
    return lambda items, env: _TRUE if all(ok for _, ok in _per_item(criteria, items, env)) else _FALSE


def _select(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
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


def _iif(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
    condition, then = args[0], args[1]
    otherwise = args[2] if len(args) == 3 else (lambda items, env: [])
    return lambda items, env: then(items, env) if truth(condition(items, env)) else otherwise(items, env)


def _with_argument(combine: Callable[[list[Item], list[Item]], list[Item]]) -> FunctionBuilder:
    """A function of the input and one argument collection."""

    def build(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
        other = args[0]
        return lambda items, env: combine(items, other(_argument_focus(env), env))

    return build


def _with_strings(operation: Callable[..., Any], result_type: str) -> FunctionBuilder:
    """A function of a single input string and literal-like arguments; empty in, empty out."""

    def build(compiler: _Compiler, args: list[Evaluate]) -> Evaluate:
        def run(items: list[Item], env: Env) -> list[Item]:
            text = _string(items, "string function")
            if text is None:
                return []
            values = []
            for arg in args:
                selected = arg(_argument_focus(env), env)
                if not selected:
                    return []
                values.append(selected[0][0])
            result = operation(text, *values)
            return [] if result is None else [(result, result_type, result_type, None)]

        return run

    return build


def _subset(a: list[Item], b: list[Item]) -> list[Item]:
    return _boolean(all(any(_values_equal(x, y) is True for y in b) for x in a))


def _intersect(a: list[Item], b: list[Item]) -> list[Item]:
    return _distinct([x for x in a if any(_values_equal(x, y) is True for y in b)])


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
    return _boolean(len(items) == 1 and items[0][0] is not None and type(items[0][0]) not in (dict, list))


def _not(items: list[Item]) -> list[Item]:
    value = truth(items)
    return [] if value is None else _boolean(not value)


def _single(items: list[Item]) -> list[Item]:
    if len(items) > 1:
        raise EvaluationError("single() on several items")
    return items


def _now(items: list[Item]) -> list[Item]:
    return [(datetime.now(timezone.utc).isoformat(timespec="seconds"), "dateTime", "dateTime", None)]


def _today(items: list[Item]) -> list[Item]:
    return [(datetime.now(timezone.utc).date().isoformat(), "date", "date", None)]


_SIMPLE: dict[str, Simple] = {
    "empty": lambda items: _FALSE if items else _TRUE,
    "not": _not,
    "count": lambda items: [(len(items), "integer", "integer", None)],
    "first": lambda items: items[:1],
    "last": lambda items: items[-1:],
    "tail": lambda items: items[1:],
    "single": _single,
    "distinct": _distinct,
    "isDistinct": lambda items: _boolean(len(_distinct(items)) == len(items)),
    "hasValue": _has_value,
    "allTrue": lambda items: _boolean(all(i[0] is True for i in items)),
    "allFalse": lambda items: _boolean(all(i[0] is False for i in items)),
    "anyTrue": lambda items: _boolean(any(i[0] is True for i in items)),
    "anyFalse": lambda items: _boolean(any(i[0] is False for i in items)),
    "toInteger": _to_integer,
    "toString": _to_string,
    "length": lambda items: [] if _string(items, "length") is None else [(len(items[0][0]), "integer", "integer", None)],
    "upper": lambda items: [] if _string(items, "upper") is None else [(items[0][0].upper(), "string", "string", None)],
    "lower": lambda items: [] if _string(items, "lower") is None else [(items[0][0].lower(), "string", "string", None)],
    "now": _now,
    "today": _today,
    # The narrative rules txt-1 and txt-2 are checked natively (invariants.py); as FHIRPath they hold.
    "htmlChecks": lambda items: _TRUE,
}

_BUILDERS: dict[str, tuple[tuple[int, ...], FunctionBuilder]] = {
    "where": ((1,), _where),
    "exists": ((0, 1), _exists),
    "all": ((1,), _all),
    "select": ((1,), _select),
    "iif": ((2, 3), _iif),
    "combine": ((1,), _with_argument(lambda a, b: a + b)),
    "union": ((1,), _with_argument(lambda a, b: _distinct(a + b))),
    "intersect": ((1,), _with_argument(_intersect)),
    "exclude": ((1,), _with_argument(lambda a, b: [x for x in a if not any(_values_equal(x, y) is True for y in b)])),
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


# -- references and terminology -----------------------------------------------------------------


def resolve_reference(reference: str, resource: dict[str, Any], root: dict[str, Any]) -> dict[str, Any] | None:
    """The resource a literal reference points to inside the instance (see :func:`locate_reference`)."""
    located = locate_reference(reference, resource, root)
    return located[0] if located is not None else None


def locate_reference(reference: str, resource: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], bool, str] | None:
    """The target of a literal reference inside the instance, whether it sits in the root resource
    (not in ``resource``), and its path there: a contained resource (``#id``: ``contained[2]``) or a
    Bundle entry (by ``fullUrl``, or ``Type/id`` at the end of one: ``entry[3].resource``)."""
    if reference.startswith("#"):
        for in_root, container in ((False, resource), (True, root)):
            for position, contained in enumerate(container.get("contained", ())):
                if type(contained) is dict and contained.get("id") == reference[1:]:
                    return contained, in_root, f"contained[{position}]"
        return None
    if root.get("resourceType") != "Bundle":
        return None
    for position, entry in enumerate(root.get("entry", ())):
        if type(entry) is not dict or type(entry.get("resource")) is not dict:
            continue
        target = entry["resource"]
        if entry.get("fullUrl") == reference or (
            "://" not in reference and f"{target.get('resourceType')}/{target.get('id')}" == reference
        ):
            return target, True, f"entry[{position}].resource"
    return None


def code_in_value_set(terminology: CodeValidator, value_set: str, item: Item) -> bool | None:
    """Whether a code, Coding or CodeableConcept item has a code in the value set (None: undecided)."""
    value, fhir_type = item[0], item[1]
    if type(value) is str:
        return terminology.validate_code(value_set, None, value).valid
    if type(value) is not dict:
        return None
    codings = value.get("coding", ()) if fhir_type == "CodeableConcept" else (value,)
    answers = [
        terminology.validate_code(value_set, coding.get("system"), coding["code"], coding.get("display")).valid
        for coding in codings
        if type(coding) is dict and type(coding.get("code")) is str
    ]
    if any(answer is True for answer in answers):
        return True
    return False if answers and all(answer is False for answer in answers) else None
