"""Value set composition on a small synthetic code system: every R4 filter operator, includes,
excludes, imports and inactive concepts, seen through expand and validate_code."""

from __future__ import annotations

from typing import Any

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.outcome import FhirError
from samen.fhir.terminology import Terminology

BODY = "http://example.org/fhir/CodeSystem/body-parts"


def _concept(code: str, *children: dict[str, Any], **properties: Any) -> dict[str, Any]:
    concept: dict[str, Any] = {"code": code, "display": code.replace("-", " ").title()}
    props = []
    for name, value in properties.items():
        key = "valueBoolean" if isinstance(value, bool) else "valueCode"
        props.append({"code": name, key: value})
    if props:
        concept["property"] = props
    if children:
        concept["concept"] = list(children)
    return concept


BODY_PARTS = {
    "resourceType": "CodeSystem",
    "url": BODY,
    "version": "1",
    "status": "active",
    "content": "complete",
    "caseSensitive": True,
    "hierarchyMeaning": "is-a",
    "property": [
        {"code": "side", "type": "code"},
        {"code": "status", "type": "code"},
        {"code": "notSelectable", "type": "boolean"},
        {"code": "parent", "type": "code"},
    ],
    "concept": [
        _concept(
            "limb",
            _concept("arm", _concept("left-arm", side="left"), _concept("right-arm", side="right")),
            _concept("leg", _concept("left-leg", side="left"), _concept("right-leg", side="right", status="retired")),
            notSelectable=True,
        ),
        _concept("head"),
        _concept("nose", parent="head"),  # hierarchy stated by a property, not by nesting
    ],
}


@pytest.fixture(scope="module")
def body_terminology() -> Terminology:
    registry = Conformance()
    registry.add(BODY_PARTS, "test")
    arms = _value_set("http://example.org/fhir/ValueSet/arms", {"system": BODY, "filter": [_is_a("arm")]})
    registry.add(arms, "test")
    return Terminology(registry)


def _value_set(url: str, *includes: dict[str, Any], exclude: list[dict[str, Any]] | None = None, **compose: Any):
    definition: dict[str, Any] = {"include": list(includes), **compose}
    if exclude:
        definition["exclude"] = exclude
    return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": definition}


def _is_a(code: str) -> dict[str, str]:
    return {"property": "concept", "op": "is-a", "value": code}


def _codes(terminology: Terminology, *includes: dict[str, Any], **compose: Any) -> set[str]:
    expansion = terminology.expand(_value_set("http://example.org/vs", *includes, **compose))["expansion"]
    return {entry["code"] for entry in expansion.get("contains", [])}


def _filtered(terminology: Terminology, prop: str, op: str, value: str) -> set[str]:
    return _codes(terminology, {"system": BODY, "filter": [{"property": prop, "op": op, "value": value}]})


ALL = {"limb", "arm", "left-arm", "right-arm", "leg", "left-leg", "right-leg", "head", "nose"}


@pytest.mark.parametrize(
    ("prop", "op", "value", "expected"),
    [
        ("concept", "is-a", "arm", {"arm", "left-arm", "right-arm"}),
        ("concept", "descendent-of", "limb", {"arm", "left-arm", "right-arm", "leg", "left-leg", "right-leg"}),
        ("concept", "is-not-a", "limb", {"head", "nose"}),
        ("concept", "generalizes", "left-arm", {"left-arm", "arm", "limb"}),
        ("concept", "is-a", "head", {"head", "nose"}),  # parent given as a property
        ("concept", "is-a", "no-such-code", set()),
        ("side", "=", "left", {"left-arm", "left-leg"}),
        ("parent", "=", "head", {"nose"}),
        ("code", "regex", "left-.*", {"left-arm", "left-leg"}),
        ("display", "regex", "Right .*", {"right-arm", "right-leg"}),
        ("concept", "in", "arm, nose", {"arm", "nose"}),
        ("concept", "not-in", "arm,leg,limb", ALL - {"arm", "leg", "limb"}),
        ("side", "in", "right", {"right-arm", "right-leg"}),
        ("side", "exists", "true", {"left-arm", "right-arm", "left-leg", "right-leg"}),
        ("side", "exists", "false", {"limb", "arm", "leg", "head", "nose"}),
    ],
)
def test_each_filter_operator(
    body_terminology: Terminology, prop: str, op: str, value: str, expected: set[str]
) -> None:
    assert _filtered(body_terminology, prop, op, value) == expected


def test_filters_of_one_include_intersect(body_terminology: Terminology) -> None:
    side = {"property": "side", "op": "=", "value": "right"}
    assert _codes(body_terminology, {"system": BODY, "filter": [_is_a("leg"), side]}) == {"right-leg"}


def test_whole_system_list_and_exclude(body_terminology: Terminology) -> None:
    assert _codes(body_terminology, {"system": BODY}) == ALL
    listed = {"system": BODY, "concept": [{"code": "nose", "display": "Neus"}, {"code": "head"}]}
    assert _codes(body_terminology, listed) == {"nose", "head"}
    assert _codes(body_terminology, {"system": BODY}, exclude=[{"system": BODY, "filter": [_is_a("limb")]}]) == {
        "head",
        "nose",
    }


def test_imported_value_sets_intersect_with_the_include(body_terminology: Terminology) -> None:
    arms = "http://example.org/fhir/ValueSet/arms"
    assert _codes(body_terminology, {"valueSet": [arms]}) == {"arm", "left-arm", "right-arm"}
    left = {"property": "side", "op": "=", "value": "left"}
    assert _codes(body_terminology, {"system": BODY, "filter": [left], "valueSet": [arms]}) == {"left-arm"}


def test_inactive_concepts_are_marked_and_can_be_left_out(body_terminology: Terminology) -> None:
    legs = {"system": BODY, "filter": [_is_a("leg")]}
    expansion = body_terminology.expand(_value_set("http://example.org/vs", legs))["expansion"]
    right_leg = next(entry for entry in expansion["contains"] if entry["code"] == "right-leg")
    assert right_leg["inactive"] is True
    assert _codes(body_terminology, legs, inactive=False) == {"leg", "left-leg"}


def test_a_filter_on_an_unknown_property_is_refused_with_the_reason(body_terminology: Terminology) -> None:
    include = {"system": BODY, "filter": [{"property": "colour", "op": "=", "value": "red"}]}
    with pytest.raises(FhirError) as raised:
        _codes(body_terminology, include)
    assert raised.value.status == 422 and "defines no property 'colour'" in raised.value.message


def test_validate_code_uses_the_composition(body_terminology: Terminology) -> None:
    arms = "http://example.org/fhir/ValueSet/arms"
    assert body_terminology.validate_code(arms, BODY, "left-arm").valid is True
    assert body_terminology.validate_code(arms, BODY, "left-leg").valid is False
    assert body_terminology.validate_code(arms, BODY, "Left-Arm").valid is False  # case-sensitive system
    assert body_terminology.validate_code(arms, "http://example.org/other", "left-arm").valid is False


def test_abstract_codes_are_refused_unless_allowed(body_terminology: Terminology) -> None:
    everything = "http://example.org/fhir/ValueSet/body"
    body_terminology.conformance.add(_value_set(everything, {"system": BODY}), "test")
    refused = body_terminology.validate_code(everything, BODY, "limb")
    assert refused.valid is False and "abstract" in refused.message
    assert body_terminology.validate_code(everything, BODY, "limb", abstract=True).valid is True


def test_lookup_gives_display_properties_and_hierarchy(body_terminology: Terminology) -> None:
    arm = body_terminology.lookup(BODY, "arm")
    assert arm.display == "Arm" and arm.version == "1"
    assert {"code": "parent", "valueCode": "limb"} in arm.properties
    assert {("child", p["valueCode"]) for p in arm.properties if p["code"] == "child"} == {
        ("child", "left-arm"),
        ("child", "right-arm"),
    }
    right_leg = body_terminology.lookup(BODY, "right-leg")
    assert right_leg.inactive and {"code": "side", "valueCode": "right"} in right_leg.properties
    with pytest.raises(FhirError) as raised:
        body_terminology.lookup(BODY, "tail")
    assert raised.value.status == 404
