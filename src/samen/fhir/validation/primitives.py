"""Checks of FHIR primitive values in JSON: the JSON type, the R4 regex, and the rules a regex cannot say.

The regexes are read from the primitive types' StructureDefinitions (the ``regex`` extension on
``<type>.value``), so they are exactly the spec's; each is compiled once per node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from lxml import etree

from samen.fhir.conformance import Conformance
from samen.fhir.primitives import date_range
from samen.fhir.xml_layout import XmlFormatError
from samen.fhir.xml_read import parse_xml

REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
_INTEGER_TYPES = {"integer": -(2**31), "unsignedInt": 0, "positiveInt": 1}
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_STRING = 1024 * 1024
# Spec regexes that backtrack exponentially on some values, and the same language without doing so:
# base64Binary's \s* at both ends of a group lets "AAAA AAAA ... !" be split in 2^n ways.
_LINEAR_EQUIVALENTS = {
    r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+": r"\s*(?:[0-9a-zA-Z+/=]{4}\s*)+",
}
XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"

# A check answers None for a valid value, else (severity, message).
Problem = tuple[str, str] | None
PrimitiveCheck = Callable[[object], Problem]


class PrimitiveChecks:
    """One check function per primitive type code, built from the core StructureDefinitions."""

    def __init__(self, conformance: Conformance) -> None:
        self._conformance = conformance
        self._checks: dict[str, PrimitiveCheck] = {}

    def for_type(self, type_code: str) -> PrimitiveCheck:
        check = self._checks.get(type_code)
        if check is None:
            check = self._checks[type_code] = self._build(type_code)
        return check

    def _build(self, type_code: str) -> PrimitiveCheck:
        if type_code == "boolean":
            return _boolean
        if type_code in _INTEGER_TYPES:
            return _integer_check(type_code, _INTEGER_TYPES[type_code])
        if type_code == "decimal":
            return _decimal
        if type_code == "xhtml":
            return _xhtml
        return _string_check(type_code, self._regex(type_code))

    def _regex(self, type_code: str) -> re.Pattern[str] | None:
        definition = self._conformance.type_definition(type_code)
        for element in (definition or {}).get("snapshot", {}).get("element", ()):
            if element["path"] != f"{type_code}.value":
                continue
            for type_ref in element.get("type", ()):
                for extension in type_ref.get("extension", ()):
                    if extension["url"] == REGEX_EXTENSION:
                        pattern = _LINEAR_EQUIVALENTS.get(extension["valueString"], extension["valueString"])
                        # the spec's regexes are Java's: \s and \S are ASCII (a no-break space is no \s)
                        return re.compile(pattern, re.ASCII)
        return None


def _boolean(value: object) -> Problem:
    if value is True or value is False:
        return None
    return "error", f"Error parsing JSON: the primitive value must be a boolean, not {json_kind(value)}"


def _integer_check(type_code: str, lowest: int) -> PrimitiveCheck:
    def check(value: object) -> Problem:
        if type(value) is not int:
            if isinstance(value, (float, Decimal)):
                return "error", f"The value '{value}' is not a valid {type_code}"
            return "error", f"Error parsing JSON: the primitive value must be a number, not {json_kind(value)}"
        if value < lowest or value > 2**31 - 1:
            return "error", f"The value '{value}' is outside the range of {type_code}"
        return None

    return check


def _decimal(value: object) -> Problem:
    if type(value) is float or isinstance(value, Decimal):
        return None if math.isfinite(value) else ("error", f"The value '{value}' is not a valid decimal")
    if type(value) is int:
        return None
    return "error", f"Error parsing JSON: the primitive value must be a number, not {json_kind(value)}"


def _xhtml(value: object) -> Problem:
    if type(value) is not str:
        return "error", f"Error parsing JSON: the primitive value must be a string, not {json_kind(value)}"
    return _narrative_problem(value)


@lru_cache(maxsize=512)
def _narrative_problem(text: str) -> Problem:
    """Cached per text: narratives repeat (the parsed trees are not kept, lxml trees stay in one thread)."""
    root = parse_xhtml(text)
    if root is None:
        return "error", "The narrative is not well-formed XHTML"
    if root.tag != XHTML_DIV:
        return "error", "The narrative must be a <div> element in the XHTML namespace"
    return None


def parse_xhtml(text: str) -> etree._Element | None:
    """The parsed XHTML of a narrative, None when not well-formed. Read as FHIR XML is read (no DOCTYPE,
    only XML's own entities), so that a valid narrative can be written as FHIR XML."""
    try:
        return parse_xml(text)
    except XmlFormatError:
        return None


def _string_check(type_code: str, regex: re.Pattern[str] | None) -> PrimitiveCheck:
    warn_on_edges = type_code == "string"  # the other types' regexes decide (markdown may indent, base64 may wrap)
    is_date = type_code in _DATE_TYPES

    def check(value: object) -> Problem:
        if type(value) is not str:
            return "error", f"Error parsing JSON: the primitive value must be a string, not {json_kind(value)}"
        if not value:
            return "error", "A primitive value cannot be an empty string"
        if len(value) > _MAX_STRING:
            return "error", f"The value is longer than {_MAX_STRING} characters"
        if _CONTROL.search(value):
            return "error", "The value contains illegal control characters"
        if regex is not None and not regex.fullmatch(value):
            return "error", f"The value '{_shorten(value)}' is not a valid {type_code}"
        if is_date:
            try:
                date_range(value)
            except ValueError:
                return "error", f"The value '{value}' is not a valid {type_code}"
        if warn_on_edges and (value[0].isspace() or value[-1].isspace()):
            return "warning", "The value should not start or end with whitespace"
        return None

    return check


def json_kind(value: object) -> str:
    """How a JSON value is named in messages: "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shorten(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
