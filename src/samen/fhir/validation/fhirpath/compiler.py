"""Compiling a FHIRPath tree into nested closures over FHIR JSON: paths, variables and operators.

The functions live in :mod:`.functions`; a name this compiler does not know raises
:class:`~.parser.Unsupported` at compile time, so the caller can use another engine.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from samen.fhir.model import Model
from samen.fhir.validation.bindings import code_in_value_set
from samen.fhir.validation.fhirpath.functions import FUNCTION_BUILDERS, SIMPLE_FUNCTIONS, argument_focus
from samen.fhir.validation.fhirpath.items import (
    FALSE,
    TRUE,
    Env,
    EvaluationError,
    Evaluate,
    Item,
    boolean,
    compare,
    distinct,
    item_of,
    number,
    resource_item,
    string_of,
    truth,
    type_matches,
    values_equal,
)
from samen.fhir.validation.fhirpath.parser import CONSTANTS, Parser, Unsupported
from samen.fhir.validation.references import resolve_reference


@lru_cache(maxsize=4096)
def compile_expression(model: Model, expression: str) -> Evaluate:
    """The compiled expression: call it with the input items and an :class:`Env`."""
    return Compiler(model).compile(Parser(expression).parse())


class Compiler:
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
        constant = CONSTANTS.get(name)
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
            return lambda items, env: [i for i in operand(items, env) if type_matches(model, i[1], name)]

        def is_type(items: list[Item], env: Env) -> list[Item]:
            selected = operand(items, env)
            if not selected:
                return []
            if len(selected) > 1:
                raise EvaluationError("'is' needs a single item")
            return TRUE if type_matches(model, selected[0][1], name) else FALSE

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
                    return TRUE if negate else FALSE
                result: bool | None = True
                for x, y in zip(a, b):
                    same = values_equal(x, y)
                    if same is None:
                        return []
                    if not same:
                        result = False
                        break
                return boolean((not result) if negate else result)

            return equals
        if op in ("~", "!~"):
            negate = op == "!~"

            def equivalent(items: list[Item], env: Env) -> list[Item]:
                a, b = left(items, env), right(items, env)
                same = len(a) == len(b) and all(_equivalent(x, y) for x, y in zip(a, b))
                return boolean(same != negate)

            return equivalent
        if op in ("<", ">", "<=", ">="):
            accept = {"<": (-1,), ">": (1,), "<=": (-1, 0), ">=": (1, 0)}[op]

            def ordered(items: list[Item], env: Env) -> list[Item]:
                a, b = left(items, env), right(items, env)
                if not a or not b:
                    return []
                if len(a) > 1 or len(b) > 1:
                    raise EvaluationError(f"'{op}' needs single items")
                order = compare(a[0], b[0])
                return [] if order is None else boolean(order in accept)

            return ordered
        if op == "|":
            return lambda items, env: distinct(left(items, env) + right(items, env))
        if op in ("in", "contains"):
            element, collection = (left, right) if op == "in" else (right, left)

            def member_of(items: list[Item], env: Env) -> list[Item]:
                wanted = element(items, env)
                if not wanted:
                    return []
                if len(wanted) > 1:
                    raise EvaluationError(f"'{op}' needs a single item")
                return boolean(any(values_equal(wanted[0], x) is True for x in collection(items, env)))

            return member_of
        if op == "&":
            def concatenate(items: list[Item], env: Env) -> list[Item]:
                a, b = string_of(left(items, env), "&") or "", string_of(right(items, env), "&") or ""
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
        if name in SIMPLE_FUNCTIONS:
            if compiled:
                raise Unsupported(f"{name}() takes no arguments")
            simple = SIMPLE_FUNCTIONS[name]
            return lambda items, env: simple(items)
        special = self.special_functions().get(name)
        if special is not None:
            return special(compiled)
        if name not in FUNCTION_BUILDERS:
            raise Unsupported(f"function {name}()")
        arities, builder = FUNCTION_BUILDERS[name]
        if len(compiled) not in arities:
            raise Unsupported(f"{name}() with {len(compiled)} arguments")
        return builder(self, compiled)

    def special_functions(self) -> dict[str, Callable[[list[Evaluate]], Evaluate]]:
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
            wanted = string_of(url(argument_focus(env), env), "extension")
            return [e for e in extensions(items, env) if type(e[0]) is dict and e[0].get("url") == wanted]

        return extension

    def resolve(self, args: list[Evaluate]) -> Evaluate:
        def resolve(items: list[Item], env: Env) -> list[Item]:
            out = []
            for value, _type, _context, sidecar in items:
                reference = value.get("reference") if type(value) is dict else value
                if type(reference) is str:
                    target = resolve_reference(reference, env)
                    if target is not None:
                        out.append(resource_item(target))
            return out

        return resolve

    def member_of(self, args: list[Evaluate]) -> Evaluate:
        if len(args) != 1:
            raise Unsupported("memberOf() needs a value set")
        value_set = args[0]

        def member_of(items: list[Item], env: Env) -> list[Item]:
            url = string_of(value_set(argument_focus(env), env), "memberOf")
            if url is None or env.terminology is None or len(items) != 1:
                return []
            return boolean(code_in_value_set(env.terminology, url, items[0]))

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
    return values_equal(a, b) is True


def _logic(op: str, left: Evaluate, right: Evaluate) -> Evaluate:
    if op == "and":
        def both(items: list[Item], env: Env) -> list[Item]:
            a = truth(left(items, env))
            if a is False:
                return FALSE
            b = truth(right(items, env))
            if b is False:
                return FALSE
            return TRUE if a is True and b is True else []

        return both
    if op == "or":
        def either(items: list[Item], env: Env) -> list[Item]:
            a = truth(left(items, env))
            if a is True:
                return TRUE
            b = truth(right(items, env))
            if b is True:
                return TRUE
            return FALSE if a is False and b is False else []

        return either
    if op == "xor":
        def exclusive(items: list[Item], env: Env) -> list[Item]:
            a, b = truth(left(items, env)), truth(right(items, env))
            return [] if a is None or b is None else boolean(a != b)

        return exclusive

    def implies(items: list[Item], env: Env) -> list[Item]:
        a = truth(left(items, env))
        if a is False:
            return TRUE
        b = truth(right(items, env))
        if b is True:
            return TRUE
        return FALSE if a is True and b is False else []

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
        x, y = number(x), number(y)
        if op in ("/", "div", "mod") and y == 0:
            return []
        result = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                  "div": lambda: x // y, "mod": lambda: x % y}[op]()
        return [(result, "integer" if type(result) is int else "decimal", "", None)]

    return calculate
