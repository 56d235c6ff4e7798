"""The invariants (``ElementDefinition.constraint``) of StructureDefinitions, compiled once each.

Three ways to check one, fastest first:

- native: ``ele-1`` is the walker's own empty-element check; ``ext-1``, ``ref-1``, ``dom-6`` and the
  narrative rules ``txt-1``/``txt-2``, which nearly every resource meets, are Python functions here;
- :mod:`samen.fhir.validation.fhirpath`, which compiles nearly every FHIRPath invariant;
- fhirpathpy for the rest. An expression neither can run is skipped, logged once, never per request.

An invariant that cannot fail when certain elements are absent (``contained.contained.empty()``)
carries those element names, so the walker skips it on the many elements that lack them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fhirpathpy
import structlog
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models as fhirpath_models

from samen.fhir.model import Model
from samen.fhir.validation.primitives import parse_xhtml
from samen.fhir.validation.references import array, contained_by_id
from samen.fhir.validation.fhirpath import (
    Env,
    EvaluationError,
    Item,
    Unsupported,
    compile_expression,
    focus_names,
    item_of,
    truth,
)

log = structlog.get_logger(__name__)

Check = Callable[[Item, Env], bool | None]  # False: violated; None: could not be decided

_FHIRPATHPY_LOCK = threading.Lock()  # fhirpathpy keeps per-evaluation state in module globals
_XHTML = "{http://www.w3.org/1999/xhtml}"
_NARRATIVE_ELEMENTS = frozenset(
    "p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt dfn q var abbr acronym cite blockquote "
    "hr address bdo kbd sub sup ul ol li dl dt dd pre table caption colgroup col thead tr tfoot tbody th "
    "td code samp img map area".split()
)


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    severity: str  # error | warning
    human: str
    expression: str
    check: Check
    needs: frozenset[str] | None  # JSON names without which it holds (None: always evaluate)

    def applies(self, value: Any) -> bool:
        """Whether the invariant must be evaluated on this element value."""
        needs = self.needs
        if needs is None:
            return True
        return type(value) is dict and not needs.isdisjoint(value)


def compile_invariant(model: Model, constraint: dict[str, Any], context: str) -> Invariant | None:
    """The invariant of one ``constraint`` on elements of ``context`` (a type name or a backbone
    path); None for ``ele-1`` (the walker's own check) and for expressions no engine can run."""
    return _compile(model, constraint["key"], constraint.get("severity", "error"), constraint.get("human", ""),
                    constraint.get("expression") or "", context)


@lru_cache(maxsize=16384)
def _compile(model: Model, key: str, severity: str, human: str, expression: str, context: str) -> Invariant | None:
    if key == "ele-1" or not expression:
        return None
    native = _NATIVE.get((key, expression))
    if native is not None:
        return Invariant(key, severity, human, expression, native, None)
    if (key, expression) == _DOM_3:
        return Invariant(key, severity, human, expression, _contained_are_referenced(model), frozenset({"contained"}))
    try:
        evaluate = compile_expression(model, expression)
    except Unsupported as reason:
        check = _fhirpathpy_check(key, expression, context, str(reason))
        return None if check is None else Invariant(key, severity, human, expression, check, None)
    return Invariant(key, severity, human, expression, _checker(key, expression, evaluate),
                     _needed_names(model, expression, evaluate, context))


def _checker(key: str, expression: str, evaluate: Callable[[list[Item], Env], list[Item]]) -> Check:
    def check(item: Item, env: Env) -> bool | None:
        env.context = item
        try:
            return truth(evaluate([item], env))
        except EvaluationError as error:
            _log_once(key, expression, f"cannot be evaluated here: {error}")
            return None

    return check


def _needed_names(model: Model, expression: str, evaluate: Callable[[list[Item], Env], list[Item]],
                  context: str) -> frozenset[str] | None:
    """The JSON names of the focus the expression reads, when it holds on an element without them."""
    names = focus_names(expression)
    if names is None or not context:
        return None
    empty = item_of({}, context)
    try:
        holds_when_absent = truth(evaluate([empty], Env(empty, empty, empty))) is not False
    except EvaluationError:
        return None
    if not holds_when_absent:
        return None
    json_names: set[str] = set()
    for name in names:
        info = model.element(context, name)
        if info is None:
            json_names.add(name)
            continue
        for json_name, _type in info.json_names():
            json_names.update((json_name, "_" + json_name))
    return frozenset(json_names)


def _fhirpathpy_check(key: str, expression: str, context: str, reason: str) -> Check | None:
    try:
        evaluate = fhirpathpy.compile(expression, fhirpath_models["r4"])
    except Exception as error:  # fhirpathpy raises bare exceptions for what it cannot parse
        _log_once(key, expression, f"not evaluated: {reason}; fhirpathpy: {error}")
        return None

    def check(item: Item, env: Env) -> bool | None:
        value = item[0]
        node = value if item[0] is env.resource[0] else ResourceNode.create_node(value, context)
        try:
            with _FHIRPATHPY_LOCK:
                result = evaluate(node, {"resource": env.resource[0], "rootResource": env.root[0]})
        except Exception as error:  # fhirpathpy raises bare exceptions for unimplemented functions
            _log_once(key, expression, f"fhirpathpy failed: {error}")
            return None
        if not result:
            return None
        return result[0] if isinstance(result[0], bool) and len(result) == 1 else True

    return check


_logged: set[tuple[str, str]] = set()


def _log_once(key: str, expression: str, message: str) -> None:
    if (key, expression) not in _logged:
        _logged.add((key, expression))
        log.warning("invariant skipped", key=key, expression=expression, reason=message)


# -- native checks ------------------------------------------------------------------------------


def _extension_has_value_or_children(item: Item, env: Env) -> bool:
    """ext-1: an extension has either nested extensions or a value[x], not both (a value[x] with only
    extensions, ``_valueString``, exists too)."""
    value = item[0]
    if type(value) is not dict:
        return True
    has_value = any(key.lstrip("_").startswith("value") and len(key.lstrip("_")) > 5 for key in value)
    return bool(value.get("extension")) != has_value


def _local_reference_resolves(item: Item, env: Env) -> bool:
    """ref-1: a reference to ``#id`` names a resource contained in %rootResource."""
    value = item[0]
    reference = value.get("reference") if type(value) is dict else None
    if type(reference) is not str or not reference.startswith("#") or reference == "#":
        return True
    return reference[1:] in contained_by_id(env.root[0], env)


def _has_narrative(item: Item, env: Env) -> bool:
    """dom-6: a resource should have a narrative."""
    text = item[0].get("text") if type(item[0]) is dict else None
    return type(text) is dict and "div" in text


def _narrative_is_safe(item: Item, env: Env) -> bool | None:
    """txt-1: only basic HTML formatting elements, no scripts, forms or event handlers."""
    div = _div(item[0])
    return _safe_html(div) if div is not None else None


def _narrative_has_content(item: Item, env: Env) -> bool | None:
    """txt-2: the narrative has some non-whitespace content (text or an image)."""
    div = _div(item[0])
    return _has_content(div) if div is not None else None


def _div(value: Any) -> str | None:
    """The narrative's XHTML (the invariants sit on Narrative.div; accept the Narrative too)."""
    div = value.get("div") if type(value) is dict else value
    return div if type(div) is str else None


@lru_cache(maxsize=512)
def _safe_html(div: str) -> bool | None:
    root = parse_xhtml(div)
    if root is None:
        return None
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.removeprefix(_XHTML) not in _NARRATIVE_ELEMENTS:
            return False
        if any(attribute.lower().startswith("on") for attribute in element.attrib):
            return False
    return True


@lru_cache(maxsize=512)
def _has_content(div: str) -> bool | None:
    root = parse_xhtml(div)
    if root is None:
        return None
    return any((text or "").strip() for text in root.itertext()) or any(e.tag == _XHTML + "img" for e in root.iter())


_DOM_3 = ("dom-3", "contained.where((('#'+id in (%resource.descendants().reference | "
          "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
          "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
          "descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists())"
          ".not()).trace('unmatched', id).empty()")


def _contained_are_referenced(model: Model) -> Check:
    """dom-3: every contained resource is referred to from elsewhere in the resource (``#id``) or
    refers to its container (``#``). As the expression says, but reading the resource's references
    once rather than once per contained resource (which made it cubic in their number)."""
    references = compile_expression(model, "descendants().reference | descendants().as(canonical) | "
                                           "descendants().as(uri) | descendants().as(url)")
    points_to_container = compile_expression(
        model, "descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists()")

    def check(item: Item, env: Env) -> bool:
        targets = {value for value, *_ in references([env.resource], env) if type(value) is str}
        for contained in array(item[0].get("contained")):
            if type(contained) is not dict or type(contained.get("id")) is not str:
                continue  # '#' + id is empty: the expression cannot say it is unmatched
            if "#" + contained["id"] in targets:
                continue
            if not truth(points_to_container([item_of(contained, "Resource")], env)):
                return False
        return True

    return check


_NATIVE: dict[tuple[str, str], Check] = {
    ("ext-1", "extension.exists() != value.exists()"): _extension_has_value_or_children,
    ("ref-1", "reference.startsWith('#').not() or "
              "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))"):
        _local_reference_resolves,
    ("dom-6", "text.`div`.exists()"): _has_narrative,
    ("txt-1", "htmlChecks()"): _narrative_is_safe,
    ("txt-2", "htmlChecks()"): _narrative_has_content,
}
