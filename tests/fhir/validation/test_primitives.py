"""Primitive values: their JSON type and the R4 format of each primitive type."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import assert_issue, assert_valid, errors, found

from samen.fhir.validation import Validator

# (type, valid values, invalid values): each value is tried as an extension's value[x], which takes every primitive type
CASES: list[tuple[str, list[Any], list[Any]]] = [
    ("boolean", [True, False], ["true", 1]),
    ("integer", [0, -5, 2147483647], [1.5, 2147483648, "1"]),
    ("positiveInt", [1, 20], [0, -1]),
    ("unsignedInt", [0, 7], [-1, 1.0]),
    ("decimal", [0, 1.5, -0.001, 1e-7], ["1.5", True, float("inf"), float("-inf"), float("nan")]),
    ("string", ["Anna", "two\nlines", "Anna\xa0Jansen", "10\u202f000", "\u3000x"], ["", "bell\x07", 5]),
    ("markdown", ["*x*"], [""]),
    ("code", ["final", "a b"], [" final", "a  b", "final "]),
    ("id", ["a-1.B", "x" * 64], ["a b", "x" * 65, "a_b"]),
    ("uri", ["urn:x", "http://example.org/a?b=c"], ["a b", ""]),
    ("url", ["https://example.org/fhir"], ["https://example.org/a b"]),
    ("canonical", ["http://example.org/ValueSet/x|1.0"], ["http://example.org/ValueSet x"]),
    ("oid", ["urn:oid:2.16.840.1.113883"], ["2.16.840", "urn:oid:3.1", "urn:oid:1.02"]),
    ("uuid", ["urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f"], ["6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f", "urn:uuid:6B1D"]),
    ("date", ["2024", "2024-02", "2024-02-29"], ["2024-1-01", "2023-02-29", "2024-13", "24-01-01", "2024-01-01T10:00:00Z"]),
    ("dateTime", ["2024", "2024-01-01", "2024-01-01T10:00:00+01:00", "2024-01-01T10:00:00.123Z"],
     ["2024-01-01T10:00", "2024-01-01T10:00:00", "2024-01-01T25:00:00Z", "2024-01-01 10:00:00Z"]),
    ("instant", ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00.5+02:00"], ["2024-01-01", "2024-01-01T10:00:00"]),
    ("time", ["10:00:00", "23:59:59.999"], ["10:00", "24:00:00", "10:00:00Z"]),
    ("base64Binary", ["AAAA", "aGVsbG8=", "aGVs\nbG8= "], ["###", "abc"]),
]


def _with_value(type_code: str, value: Any) -> dict[str, Any]:
    name = "value" + type_code[0].upper() + type_code[1:]
    return {"resourceType": "Basic", "code": {"text": "x"}, "extension": [{"url": "http://example.org/x", name: value}]}


@pytest.mark.parametrize(("type_code", "value"), [(t, v) for t, good, _ in CASES for v in good])
def test_valid_primitive_values(validator: Validator, type_code: str, value: Any) -> None:
    assert_valid(validator.validate(_with_value(type_code, value)))


@pytest.mark.parametrize(("type_code", "value"), [(t, v) for t, _, bad in CASES for v in bad])
def test_invalid_primitive_values(validator: Validator, type_code: str, value: Any) -> None:
    expression = "Basic.extension[0].value" + type_code[0].upper() + type_code[1:]
    wrong_json_type = _json_kind(value) != _json_kind(_valid_example(type_code))
    assert_issue(validator.validate(_with_value(type_code, value)), "error", "structure" if wrong_json_type else "value", expression)


def _json_kind(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "string"


def _valid_example(type_code: str) -> Any:
    return next(good[0] for t, good, _ in CASES if t == type_code)


def test_strings_with_white_space_at_the_edges_are_a_warning(validator: Validator) -> None:
    issues = validator.validate(_with_value("string", " Anna"))
    assert_issue(issues, "warning", "value", "Basic.extension[0].valueString")
    assert not found(issues, "error", "value", "Basic.extension[0].valueString")


def test_resource_ids_have_the_id_format(validator: Validator) -> None:
    assert_valid(validator.validate({"resourceType": "Basic", "id": "a.b-1", "code": {"text": "x"}}))
    assert_issue(validator.validate({"resourceType": "Basic", "id": "a/b", "code": {"text": "x"}}), "error", "value", "Basic.id")


def test_narrative_must_be_an_xhtml_div(validator: Validator) -> None:
    def basic(div: str) -> dict[str, Any]:
        return {"resourceType": "Basic", "code": {"text": "x"}, "text": {"status": "generated", "div": div}}

    assert_valid(validator.validate(basic('<div xmlns="http://www.w3.org/1999/xhtml"><p>Anna</p></div>')))
    assert_issue(validator.validate(basic("<div><p>Anna</p></div>")), "error", "value", "Basic.text.div")
    assert_issue(validator.validate(basic('<div xmlns="http://www.w3.org/1999/xhtml"><p>Anna</div>')), "error", "value",
                 "Basic.text.div")


@pytest.mark.parametrize("div", [
    '<div xmlns="http://www.w3.org/1999/xhtml">Anna&nbsp;Jansen</div>',
    '<!DOCTYPE div [<!ENTITY nbsp "&#160;">]><div xmlns="http://www.w3.org/1999/xhtml">Anna&nbsp;Jansen</div>',
])
def test_a_narrative_has_only_the_entities_of_xml_as_in_fhir_xml(validator: Validator, div: str) -> None:
    """What the node could not write as FHIR XML is no valid narrative."""
    narrative = {"resourceType": "Basic", "code": {"text": "x"}, "text": {"status": "generated", "div": div}}
    assert_issue(validator.validate(narrative), "error", "value", "Basic.text.div")


def test_base64_with_white_space_is_checked_in_linear_time(validator: Validator) -> None:
    """The R4 regex backtracks exponentially on groups separated by white space that end badly."""
    started = time.perf_counter()
    bad = validator.validate(_with_value("base64Binary", "AAAA " * 26 + "!"))
    assert time.perf_counter() - started < 1
    assert_issue(bad, "error", "value", "Basic.extension[0].valueBase64Binary")
    assert_valid(validator.validate(_with_value("base64Binary", "AAAA\n" * 100_000)))
    assert errors(validator.validate(_with_value("base64Binary", "AA AA")))  # white space only between groups of 4
