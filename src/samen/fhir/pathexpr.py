"""A model-aware compiler for the FHIRPath used in SearchParameter expressions.

Indexing evaluates some forty expressions per resource, so each expression is compiled once into
nested closures that walk the JSON directly, knowing every element's FHIR type from the model
(``Observation.value`` yields ``(dict, "Quantity")`` for ``valueQuantity``). The subset covers every
official R4 expression: paths, choice types, ``|``, ``ofType``/``as``/``is``, ``where(...)`` with
equality and ``resolve() is Type``, ``extension(url)``, ``[n]``, ``first()``, ``exists()``, boolean
logic and ``%resource``. Anything else is handed to fhirpathpy, still typed by its model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import FP_Type, ResourceNode
from fhirpathpy.models import models as fhirpath_models

from samen.fhir.model import Model

Item = tuple[Any, str, str]  # value, FHIR type code, model context for looking up its children
Focus = tuple[tuple[str, str], ...]  # the (type, context) pairs an item may statically have
Step = Callable[[list[Item], Item], list[Item]]  # (input items, root resource item) -> output items


class Unsupported(ValueError):
    """An expression (or part) the fast path does not compile; fhirpathpy takes it instead."""


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """One compiled expression: call it on a resource, or ``run`` it on items (composites)."""

    expression: str
    run: Step
    focus: Focus | None  # static result alternatives; None when only known at run time (fallback)
    fast: bool
    needs: frozenset[str] | None = None  # JSON keys without which the input selects nothing (None: unknown)

    def __call__(self, resource: dict[str, Any]) -> list[tuple[Any, str]]:
        """The (value, FHIR type) pairs the expression selects in ``resource``."""
        rtype = resource.get("resourceType", "Resource")
        root = (resource, rtype, rtype)
        return [(value, fhir_type) for value, fhir_type, _ in self.run([root], root)]

    @property
    def types(self) -> frozenset[str] | None:
        return None if self.focus is None else frozenset(t for t, _ in self.focus)


def compile_path(model: Model, expression: str, context: str | Focus, root_type: str | None = None) -> CompiledPath:
    """Compile ``expression`` for a resource type (``"Observation"``) or for the element focus of a
    composite (then ``root_type`` names the resource that ``%resource`` stands for)."""
    if isinstance(context, str):
        return _compile_cached(model, expression, ((context, context),), context)
    return _compile_cached(model, expression, context, root_type)


@lru_cache(maxsize=8192)
def _compile_cached(model: Model, expression: str, focus: Focus, root_type: str | None) -> CompiledPath:
    try:
        tree = _Parser(expression).parse()
        compiler = _Compiler(model, root_type)
        run, out = compiler.compile(tree, focus)
        return CompiledPath(expression, run, out, True, compiler.needs(tree, focus))
    except Unsupported:
        return CompiledPath(expression, _fallback(expression), None, False)


# -- references ---------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def reference_parts(reference: str) -> tuple[str, str] | None:
    """``(type, id)`` of a literal reference (relative or an absolute URL ending in ``Type/id``).

    A version (``/_history/2``) is ignored; contained (``#x``), ``urn:`` and other references give None.
    """
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2:
        return None
    res_type, res_id = parts[-2], parts[-1]
    if not res_type[:1].isupper() or not res_type.isalpha() or not is_id(res_id):
        return None
    return res_type, res_id


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def is_id(text: str) -> bool:
    """Whether ``text`` is a valid FHIR resource id: 1 to 64 letters, digits, ``-`` and ``.``."""
    return 0 < len(text) <= 64 and all(ch in _ID_CHARS for ch in text)


def _referenced_type(value: Any, root: Item) -> str | None:
    """What ``resolve()`` would resolve a Reference to, by its reference (or, lacking one, its type)."""
    if type(value) is not dict:
        return None
    reference = value.get("reference")
    if type(reference) is not str:
        declared = value.get("type")
        return declared if type(declared) is str else None
    if reference.startswith("#"):
        return _contained_type(root[0], reference[1:])
    parts = reference_parts(reference)
    return parts[0] if parts else None


def _contained_type(resource: Any, local_id: str) -> str | None:
    for contained in resource.get("contained", ()) if type(resource) is dict else ():
        if type(contained) is dict and contained.get("id") == local_id:
            return contained.get("resourceType")
    return None


# -- parsing ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)|(?P<var>%[A-Za-z_][A-Za-z0-9_]*|\$this)"
    r"|(?P<op>!=|<=|>=|!~|[.()\[\]|=,<>~+\-*/&{}]))"
)
_STRING_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_KEYWORD_OPERATORS = {"and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod"}


def _tokens(expression: str) -> list[tuple[str, Any]]:
    tokens, pos = [], 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match or match.end() == pos:
            raise Unsupported(f"cannot read {expression[pos:]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "string":
            tokens.append(("string", _unescape(text[1:-1])))
        elif kind == "number":
            tokens.append(("number", float(text) if "." in text else int(text)))
        elif kind == "ident" and text in _KEYWORD_OPERATORS:
            tokens.append(("op", text))
        else:
            tokens.append((kind, text.strip("`")))
    tokens.append(("end", None))
    return tokens


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            if escaped not in _STRING_ESCAPES:
                raise Unsupported(f"string escape \\{escaped}")
            out.append(_STRING_ESCAPES[escaped])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _Parser:
    """Recursive descent over FHIRPath's precedence levels (only those the subset needs)."""

    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.pos = 0

    def parse(self) -> tuple:
        tree = self.or_expr()
        if self.peek() != ("end", None):
            raise Unsupported(f"unexpected {self.peek()[1]!r}")
        return tree

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.pos += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise Unsupported(f"expected {op!r}, found {self.peek()[1]!r}")

    def or_expr(self) -> tuple:
        tree = self.and_expr()
        while self.peek() in (("op", "or"), ("op", "xor")):
            tree = (self.take()[1], tree, self.and_expr())
        return tree

    def and_expr(self) -> tuple:
        tree = self.equality()
        while self.accept("and"):
            tree = ("and", tree, self.equality())
        return tree

    def equality(self) -> tuple:
        tree = self.union()
        if self.peek() in (("op", "="), ("op", "!=")):
            tree = ("eq" if self.take()[1] == "=" else "ne", tree, self.union())
        return tree

    def union(self) -> tuple:
        tree = self.type_expr()
        while self.accept("|"):
            tree = ("union", tree, self.type_expr())
        return tree

    def type_expr(self) -> tuple:
        tree = self.term()
        if self.peek() in (("op", "is"), ("op", "as")):
            tree = (self.take()[1], tree, self.type_name())
        return tree

    def type_name(self) -> str:
        kind, name = self.take()
        if kind != "ident":
            raise Unsupported(f"expected a type name, found {name!r}")
        if self.accept("."):
            name = f"{name}.{self.take()[1]}"
        return name

    def term(self) -> tuple:
        tree = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "ident" and name not in _KEYWORD_OPERATORS:  # ``.contains`` is a name here
                    raise Unsupported(f"expected a name after '.', found {name!r}")
                tree = self.invocation(tree, name)
            elif self.accept("["):
                kind, index = self.take()
                if kind != "number" or not isinstance(index, int):
                    raise Unsupported("only constant whole-number indexes")
                self.expect("]")
                tree = ("index", tree, index)
            else:
                return tree

    def invocation(self, base: tuple, name: str) -> tuple:
        if not self.accept("("):
            return ("child", base, name)
        args: list[tuple] = []
        if not self.accept(")"):
            args.append(self.or_expr())
            while self.accept(","):
                args.append(self.or_expr())
            self.expect(")")
        return ("call", base, name, tuple(args))

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind == "op" and value == "(":
            tree = self.or_expr()
            self.expect(")")
            return tree
        if kind == "op" and value == "{":
            self.expect("}")
            return ("empty",)
        if kind == "string":
            return ("literal", value, "string")
        if kind == "number":
            return ("literal", value, "integer" if isinstance(value, int) else "decimal")
        if kind == "var":
            return ("this",) if value == "$this" else ("var", value[1:])
        if kind == "ident":
            if value in ("true", "false"):
                return ("literal", value == "true", "boolean")
            return self.invocation(("this",), value)
        raise Unsupported(f"unexpected {value!r}")


# -- compiling ----------------------------------------------------------------------------------

_SYSTEM_TYPES = {
    "String": "string", "Boolean": "boolean", "Integer": "integer", "Decimal": "decimal",
    "DateTime": "dateTime", "Date": "date", "Time": "time",
}
_SUBTYPES = {
    "Quantity": frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}),
    "string": frozenset({"string", "code", "id", "markdown"}),
    "uri": frozenset({"uri", "url", "canonical", "oid", "uuid"}),
    "integer": frozenset({"integer", "positiveInt", "unsignedInt"}),
}
_ABSTRACT_RESOURCES = frozenset({"Resource", "DomainResource"})
_BOOLEAN: Focus = (("boolean", "boolean"),)
_TRUE: list[Item] = [(True, "boolean", "boolean")]
_FALSE: list[Item] = [(False, "boolean", "boolean")]


class _Compiler:
    """Turns a parse tree into a Step, tracking which FHIR types each step can produce."""

    def __init__(self, model: Model, root_type: str | None) -> None:
        self.model = model
        self.root_type = root_type

    def compile(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        method = getattr(self, "_" + tree[0], None)
        if method is None:
            raise Unsupported(f"operator {tree[0]!r}")
        return method(tree, focus)

    def needs(self, tree: tuple, focus: Focus) -> frozenset[str] | None:
        """The JSON keys of the input of which at least one must be present for any result.

        None when there is no such set: the expression may select the input itself, a root
        resource, or a boolean (``exists()``) even when the input has none of its keys.
        """
        kind = tree[0]
        if kind == "child":
            if _is_input(tree):
                return None
            if not _is_input(tree[1]):
                return self.needs(tree[1], focus)
            return self._json_names(focus, tree[2])
        if kind == "call" and tree[2] == "extension" and _is_input(tree[1]):
            return self._json_names(focus, "extension")
        typed = tree[1] if kind == "as" or (kind == "call" and tree[2] in ("ofType", "as")) else None
        if typed is not None and typed[0] == "child" and _is_input(typed[1]) and not _is_input(typed):
            name = tree[2] if kind == "as" else _type_argument(tree[3])
            return self._json_names(focus, typed[2], self._type_set(name))
        if kind in ("index", "as") or (kind == "call" and tree[2] in _NARROWING_FUNCTIONS):
            return self.needs(tree[1], focus)
        if kind == "union":
            left, right = self.needs(tree[1], focus), self.needs(tree[2], focus)
            return None if left is None or right is None else left | right
        return None

    def _json_names(self, focus: Focus, name: str, wanted: frozenset[str] | None = None) -> frozenset[str]:
        names: set[str] = set()
        for _type, context in focus:
            info = self.model.element(context, name)
            if info is not None:
                names.update(n for n, t in info.json_names() if wanted is None or t in wanted or not info.choice)
        return frozenset(names)

    # - navigation -

    def _this(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        return _identity, focus

    def _var(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        if tree[1] not in ("resource", "rootResource") or self.root_type is None:
            raise Unsupported(f"variable %{tree[1]}")
        return _root, ((self.root_type, self.root_type),)

    def _child(self, tree: tuple, focus: Focus, wanted: frozenset[str] | None = None) -> tuple[Step, Focus]:
        """An element by name; ``wanted`` (from a following ofType) reads only those choice types."""
        _, base, name = tree
        if base == ("this",) and name[:1].isupper():
            return self._type_filter(name, focus)
        inner, base_focus = self.compile(base, focus)
        if not base_focus:
            raise Unsupported(f"{name} on a value of unknown type")
        table: dict[str, Callable[[Any], list[Item]]] = {}
        out: list[tuple[str, str]] = []
        for _type, context in base_focus:
            getter, found = self._getter(context, name, wanted)
            if getter is not None:
                table[context] = getter
                out += [f for f in found if f not in out]
        if not table:
            raise Unsupported(f"no element {name!r} in {[c for _, c in base_focus]}")
        return _then(inner, _child_step(table)), tuple(out)

    def _getter(
        self, context: str, name: str, wanted: frozenset[str] | None
    ) -> tuple[Callable[[Any], list[Item]] | None, Focus]:
        info = self.model.element(context, name)
        if info is None:
            return None, ()
        if info.choice:
            options = {n: (t, t) for n, t in info.json_names() if wanted is None or t in wanted}
            if not options:
                return None, ()
            return _choice_getter(options), tuple(options.values())
        fhir_type = info.types[0] if info.types else "BackboneElement"
        if fhir_type == "Element":
            fhir_type = "BackboneElement"
        if wanted is not None and fhir_type not in wanted and fhir_type not in _ABSTRACT_RESOURCES:
            return None, ()
        found = ((fhir_type, info.context or fhir_type),)
        if fhir_type in _ABSTRACT_RESOURCES:
            return _resource_getter(name), found
        return _plain_getter(name, fhir_type, info.context or fhir_type), found

    def _type_filter(self, name: str, focus: Focus) -> tuple[Step, Focus]:
        """A leading type name (``Observation.code``): keeps the focus items of that type."""
        wanted = self._type_set(name)
        kept = tuple(f for f in focus if f[0] in wanted or f[0] in _ABSTRACT_RESOURCES)
        if not kept:
            raise Unsupported(f"{name} does not apply to {[t for t, _ in focus]}")
        if all(f[0] in wanted for f in focus):
            return _identity, kept
        return _type_step(wanted), kept

    def _type_set(self, name: str) -> frozenset[str]:
        name = name.removeprefix("FHIR.")
        if name.startswith("System."):
            name = _SYSTEM_TYPES.get(name[7:], name)
        name = _SYSTEM_TYPES.get(name, name)
        if name in _ABSTRACT_RESOURCES:
            return self.model.resource_types | _ABSTRACT_RESOURCES
        return _SUBTYPES.get(name, frozenset({name}))

    def _index(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        inner, out = self.compile(tree[1], focus)
        index = tree[2]
        return _then(inner, lambda items, root: items[index : index + 1]), out

    def _union(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        left, left_out = self.compile(tree[1], focus)
        right, right_out = self.compile(tree[2], focus)
        return (lambda items, root: left(items, root) + right(items, root)), left_out + tuple(
            f for f in right_out if f not in left_out
        )

    def _as(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        return self._of_type(tree[1], focus, tree[2])

    def _of_type(self, base: tuple, focus: Focus, name: str) -> tuple[Step, Focus]:
        """``ofType``/``as``: on a plain element only the JSON keys of that type are read at all."""
        wanted = self._type_set(name)
        fused = base[0] == "child" and not _is_input(base)
        inner, inner_focus = self._child(base, focus, wanted) if fused else self.compile(base, focus)
        out = tuple(f for f in inner_focus if f[0] in wanted)
        if not out and any(f[0] in _ABSTRACT_RESOURCES for f in inner_focus):
            out = tuple((t, t) for t in wanted if t in self.model.resource_types)
        if not out:
            raise Unsupported(f"no {name} among {[t for t, _ in inner_focus]}")
        if all(f[0] in wanted for f in inner_focus):
            return inner, out
        return _then(inner, _type_step(wanted)), out

    # - functions -

    def _call(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        _, base, name, args = tree
        if name in ("ofType", "as"):
            return self._of_type(base, focus, _type_argument(args))
        handler = getattr(self, "_fn_" + name, None)
        if handler is None:
            raise Unsupported(f"function {name}()")
        inner, inner_focus = self.compile(base, focus)
        return handler(inner, inner_focus, args)

    def _fn_where(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        if len(args) != 1:
            raise Unsupported("where() takes one criterion")
        keep = self._predicate(args[0], focus)
        return _then(inner, lambda items, root: [item for item in items if keep(item, root)]), focus

    def _fn_exists(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        if args:
            inner, focus = self._fn_where(inner, focus, args)
        return _then(inner, lambda items, root: _TRUE if items else _FALSE), _BOOLEAN

    def _fn_empty(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        _no_arguments("empty", args)
        return _then(inner, lambda items, root: _FALSE if items else _TRUE), _BOOLEAN

    def _fn_not(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        _no_arguments("not", args)

        def negate(items: list[Item], root: Item) -> list[Item]:
            truth = _truth(items)
            return [] if truth is None else (_FALSE if truth else _TRUE)

        return _then(inner, negate), _BOOLEAN

    def _fn_first(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        _no_arguments("first", args)
        return _then(inner, lambda items, root: items[:1]), focus

    def _fn_last(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        _no_arguments("last", args)
        return _then(inner, lambda items, root: items[-1:]), focus

    def _fn_extension(self, inner: Step, focus: Focus, args: tuple) -> tuple[Step, Focus]:
        if len(args) != 1 or args[0][0] != "literal" or args[0][2] != "string":
            raise Unsupported("extension() needs one literal url")
        step, out = self._child(("child", ("this",), "extension"), focus)
        url = args[0][1]

        def matching(items: list[Item], root: Item) -> list[Item]:
            return [item for item in step(items, root) if type(item[0]) is dict and item[0].get("url") == url]

        return _then(inner, matching), out

    # - predicates and logic -

    def _predicate(self, tree: tuple, focus: Focus) -> Callable[[Item, Item], bool]:
        """A where() criterion as a fast test on one item (fast forms for the common shapes)."""
        if tree[0] == "is" and tree[1] == ("call", ("this",), "resolve", ()):
            wanted = self._type_set(tree[2])
            return lambda item, root: _referenced_type(item[0], root) in wanted
        if tree[0] == "eq" and tree[1][0] == "child" and tree[1][1] == ("this",) and tree[2][0] == "literal":
            name, literal = tree[1][2], tree[2][1]
            if not name[:1].isupper() and all(self.model.element(c, name) for _, c in focus):
                return lambda item, root: type(item[0]) is dict and _equal(item[0].get(name), literal)
        criterion, _ = self.compile(tree, focus)
        return lambda item, root: _truth(criterion([item], root)) is True

    def _is(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        if tree[1][0] == "call" and tree[1][2] == "resolve":
            raise Unsupported("resolve() outside where()")
        inner, _ = self.compile(tree[1], focus)
        wanted = self._type_set(tree[2])

        def test(items: list[Item], root: Item) -> list[Item]:
            if len(items) != 1:
                return []
            return _TRUE if items[0][1] in wanted else _FALSE

        return _then(inner, test), _BOOLEAN

    def _literal(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        item = [(tree[1], tree[2], tree[2])]
        return (lambda items, root: item), ((tree[2], tree[2]),)

    def _empty(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        return (lambda items, root: []), ()

    def _equality(self, tree: tuple, focus: Focus, negate: bool) -> tuple[Step, Focus]:
        left, _ = self.compile(tree[1], focus)
        right, _ = self.compile(tree[2], focus)

        def compare(items: list[Item], root: Item) -> list[Item]:
            a, b = left(items, root), right(items, root)
            if not a or not b:
                return []
            same = len(a) == len(b) and all(_equal(x[0], y[0]) for x, y in zip(a, b))
            return _TRUE if same != negate else _FALSE

        return compare, _BOOLEAN

    def _eq(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        return self._equality(tree, focus, negate=False)

    def _ne(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        return self._equality(tree, focus, negate=True)

    def _logic(self, tree: tuple, focus: Focus) -> tuple[Step, Focus]:
        left, _ = self.compile(tree[1], focus)
        right, _ = self.compile(tree[2], focus)
        combine = _LOGIC[tree[0]]

        def run(items: list[Item], root: Item) -> list[Item]:
            result = combine(_truth(left(items, root)), _truth(right(items, root)))
            return [] if result is None else (_TRUE if result else _FALSE)

        return run, _BOOLEAN

    _and = _or = _xor = _logic


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


def _xor(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else a != b


_LOGIC = {"and": _and, "or": _or, "xor": _xor}


def _truth(items: list[Item]) -> bool | None:
    """FHIRPath's singleton evaluation of a collection as a boolean (empty is unknown)."""
    if not items:
        return None
    value = items[0][0]
    return value if len(items) == 1 and isinstance(value, bool) else True


def _equal(a: Any, b: Any) -> bool:
    """FHIRPath equality on JSON values: a boolean never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


_NARROWING_FUNCTIONS = frozenset({"where", "ofType", "as", "first", "last", "extension"})


def _is_input(tree: tuple) -> bool:
    """Whether a tree stands for its input itself: ``$this`` or a leading type name."""
    return tree == ("this",) or (tree[0] == "child" and tree[1] == ("this",) and tree[2][:1].isupper())


def _type_argument(args: tuple) -> str:
    if len(args) != 1 or args[0][0] != "child" or args[0][1] != ("this",):
        raise Unsupported("a type argument must be a plain type name")
    return args[0][2]


def _no_arguments(name: str, args: tuple) -> None:
    if args:
        raise Unsupported(f"{name}() with arguments")


# -- run-time steps -----------------------------------------------------------------------------


def _identity(items: list[Item], root: Item) -> list[Item]:
    return items


def _root(items: list[Item], root: Item) -> list[Item]:
    return [root]


def _then(first: Step, second: Step) -> Step:
    if first is _identity:
        return second
    return lambda items, root: second(first(items, root), root)


def _type_step(wanted: frozenset[str]) -> Step:
    return lambda items, root: [item for item in items if item[1] in wanted]


def _child_step(table: dict[str, Callable[[Any], list[Item]]]) -> Step:
    """Apply the getter for each item's context (one getter: no lookup per item)."""
    if len(table) == 1:
        (getter,) = table.values()

        def single(items: list[Item], root: Item) -> list[Item]:
            if len(items) == 1:
                return getter(items[0][0])
            out: list[Item] = []
            for item in items:
                out += getter(item[0])
            return out

        return single

    def dispatch(items: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        for value, _type, context in items:
            getter = table.get(context)
            if getter is not None:
                out += getter(value)
        return out

    return dispatch


def _plain_getter(name: str, fhir_type: str, context: str) -> Callable[[Any], list[Item]]:
    def get(parent: Any) -> list[Item]:
        if type(parent) is not dict:
            return []
        value = parent.get(name)
        if value is None:
            return []
        if type(value) is list:
            return [(v, fhir_type, context) for v in value if v is not None]
        return [(value, fhir_type, context)]

    return get


def _resource_getter(name: str) -> Callable[[Any], list[Item]]:
    """Inline resources (``Bundle.entry.resource``) take their type from ``resourceType``."""

    def get(parent: Any) -> list[Item]:
        if type(parent) is not dict:
            return []
        value = parent.get(name)
        out: list[Item] = []
        for resource in value if type(value) is list else [value]:
            if type(resource) is dict:
                res_type = resource.get("resourceType", "Resource")
                out.append((resource, res_type, res_type))
        return out

    return get


def _choice_getter(options: dict[str, tuple[str, str]]) -> Callable[[Any], list[Item]]:
    """A choice element (``value[x]``): the one JSON key present names the type."""
    names = tuple(options)

    def get(parent: Any) -> list[Item]:
        if type(parent) is not dict:
            return []
        for key in parent if len(parent) < len(names) else names:
            value = parent.get(key)
            if value is not None and key in options:
                fhir_type, context = options[key]
                if type(value) is list:
                    return [(v, fhir_type, context) for v in value if v is not None]
                return [(value, fhir_type, context)]
        return []

    return get


# -- fallback -----------------------------------------------------------------------------------

_FHIRPATH_LOCK = threading.Lock()  # fhirpathpy keeps per-evaluation state in module globals
_PYTHON_TYPES = {bool: "boolean", int: "integer", float: "decimal", str: "string"}


def _fallback(expression: str) -> Step:
    """Evaluate with fhirpathpy (compiled once), typing results by its R4 model."""
    try:
        evaluate = fhirpathpy.compile(expression, fhirpath_models["r4"], options={"returnRawData": True})
    except Exception as error:  # fhirpathpy raises bare exceptions for syntax errors
        raise ValueError(f"cannot compile FHIRPath {expression!r}: {error}") from error

    def run(items: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        for value, _type, context in items:
            node = value if value is root[0] else ResourceNode.create_node(value, context)
            try:
                with _FHIRPATH_LOCK:
                    results = evaluate(node, {"resource": root[0], "rootResource": root[0]})
            except Exception:  # a value the expression cannot handle selects nothing
                continue
            out += [typed for typed in map(_typed_result, results) if typed is not None]
        return out

    return run


def _typed_result(result: Any) -> Item | None:
    if isinstance(result, ResourceNode):
        path = result.path or ""
        if path.startswith("System."):
            fhir_type = _SYSTEM_TYPES.get(path[7:], path[7:])
            return (result.data, fhir_type, fhir_type)
        if "." in path:
            return (result.data, "BackboneElement", path)
        return (result.data, path, path) if path else None
    if isinstance(result, FP_Type):
        fhir_type = _SYSTEM_TYPES.get(type(result).__name__.removeprefix("FP_"), "string")
        return (str(result), fhir_type, fhir_type)
    fhir_type = _PYTHON_TYPES.get(type(result))
    return (result, fhir_type, fhir_type) if fhir_type else None
