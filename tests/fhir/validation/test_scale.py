"""Validation time grows linearly with the size of a resource: large Bundles, many contained resources.

The bounds are generous (tens of times the measured time) and still far below what quadratic or
cubic work would take at these sizes.
"""

from __future__ import annotations

import time
from typing import Any

from conftest import assert_issue, assert_valid

from samen.fhir.model import Model
from samen.fhir.validation import Validator
from samen.fhir.validation.fhirpath import Env, compile_expression, resource_item, truth


def seconds(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def questionnaire(items: int) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "status": "draft",
            "item": [{"linkId": f"q{n}", "type": "string"} for n in range(items)]}


def test_distinct_values_are_found_in_linear_time(model: Model) -> None:
    unique = compile_expression(model, "descendants().linkId.isDistinct()")
    root = resource_item(questionnaire(20_000))
    answer: list[Any] = []
    assert seconds(lambda: answer.extend(unique([root], Env(root, root, root)))) < 2
    assert truth(answer) is True
    twice = questionnaire(3)
    twice["item"].append({"linkId": "q1", "type": "string"})
    root = resource_item(twice)
    assert truth(unique([root], Env(root, root, root))) is False


def patient_with_contained(count: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "id": f"o{n}", "name": "Praktijk"} for n in range(count)],
        "generalPractitioner": [{"reference": f"#o{n}"} for n in range(count)],
    }


def test_many_contained_resources_are_checked_in_linear_time(validator: Validator) -> None:
    patient = patient_with_contained(2_000)
    assert seconds(lambda: assert_valid(validator.validate(patient))) < 10
    patient["generalPractitioner"].pop()
    assert_issue(validator.validate(patient), "error", "invariant", "Patient", "dom-3")


def test_a_large_transaction_whose_entries_reference_each_other_is_checked_in_linear_time(validator: Validator) -> None:
    def uuid(n: int) -> str:
        return f"urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-{n:012d}"

    entries = [{"fullUrl": uuid(0), "resource": {"resourceType": "Patient", "active": True},
                "request": {"method": "POST", "url": "Patient"}}]
    entries += [{"fullUrl": uuid(n), "request": {"method": "POST", "url": "Observation"},
                 "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "pols"},
                              "subject": {"reference": uuid(0)}, "hasMember": [{"reference": uuid(n - 1)}]}}
                for n in range(1, 10_000)]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    assert seconds(lambda: assert_valid(validator.validate(bundle))) < 30
    entries[5]["fullUrl"] = uuid(4)
    assert_issue(validator.validate(bundle), "error", "invariant", "Bundle", "bdl-7")
