"""Validation time grows linearly with the size of a resource: large Bundles, many contained resources.

The bounds are generous (tens of times the measured time) and still far below what quadratic or
cubic work would take at these sizes.
"""

from __future__ import annotations

import time
from typing import Any

from samen.fhir.model import Model
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
