"""The R4 invariants fire on the elements they constrain, with the severity the spec gives them."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_issue, assert_valid, found

from samen.fhir.validation import Validator


def observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, **elements}


@pytest.mark.parametrize(
    ("resource", "key", "expression"),
    [
        (observation(valueString="x", dataAbsentReason={"text": "unknown"}), "obs-6", "Observation"),
        (observation(valueString="x", component=[{"code": {"coding": [{"system": "s", "code": "c"}]}, "valueString": "y"}],
                     code={"coding": [{"system": "s", "code": "c"}]}), "obs-7", "Observation"),
        (observation(referenceRange=[{"appliesTo": [{"text": "x"}]}]), "obs-3", "Observation.referenceRange[0]"),
        (observation(effectivePeriod={"start": "2024-02-01", "end": "2024-01-31"}), "per-1", "Observation.effectivePeriod"),
        (observation(valueQuantity={"value": 70, "code": "kg"}), "qty-3", "Observation.valueQuantity"),
        (observation(valueRange={"low": {"value": 1, "comparator": "<"}}), "sqty-1", "Observation.valueRange.low"),
        ({"resourceType": "Patient", "contact": [{"gender": "female"}]}, "pat-1", "Patient.contact[0]"),
        (observation(extension=[{"url": "http://example.org/x", "valueString": "x",
                                 "extension": [{"url": "a", "valueString": "y"}]}]), "ext-1", "Observation.extension[0]"),
        (observation(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>'}),
         "txt-1", "Observation.text.div"),
        (observation(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"> </div>'}),
         "txt-2", "Observation.text.div"),
        ({"resourceType": "Bundle", "type": "document"}, "bdl-10", "Bundle"),
    ],
)
def test_core_invariants_fire(validator: Validator, resource: dict[str, Any], key: str, expression: str) -> None:
    issue = assert_issue(validator.validate(resource), "error", "invariant", expression, key + ":")
    assert issue.diagnostics.startswith(key + ": ")


@pytest.mark.parametrize(
    "resource",
    [
        observation(valueString="x"),
        observation(dataAbsentReason={"text": "unknown"}),
        observation(effectivePeriod={"start": "2024-01-01", "end": "2024-01-31T10:00:00Z"}),
        observation(effectivePeriod={"start": "2024-01-01T10:00:00+01:00", "end": "2024-01-01T09:30:00Z"}),
        observation(effectivePeriod={"start": "2024"}),
        observation(valueQuantity={"value": 70, "system": "http://unitsofmeasure.org", "code": "kg"}),
        observation(extension=[{"url": "http://example.org/x", "extension": [{"url": "a", "valueString": "y"}]}]),
        observation(extension=[{"url": "http://example.org/x", "_valueString": {"extension": [  # a value without value
            {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}]),
        {"resourceType": "Patient", "contact": [{"name": {"family": "Jansen"}}]},
    ],
)
def test_core_invariants_hold(validator: Validator, resource: dict[str, Any]) -> None:
    assert_valid(validator.validate(resource))


def test_an_invariant_of_warning_severity_is_a_warning(validator: Validator) -> None:
    issues = validator.validate(observation())
    assert_issue(issues, "warning", "invariant", "Observation", "dom-6")
    narrative = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">70 kg</div>'}
    assert not found(validator.validate(observation(text=narrative)), "warning", "invariant", "Observation")


def test_invariants_of_repeated_elements_name_the_index(validator: Validator) -> None:
    periods = [{"use": "home", "period": {"start": "2024"}}, {"use": "work", "period": {"start": "2024-02", "end": "2024-01"}}]
    patient = {"resourceType": "Patient", "address": periods}
    assert_issue(validator.validate(patient), "error", "invariant", "Patient.address[1].period", "per-1")
