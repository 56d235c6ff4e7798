"""Fixtures for the validator tests: validators over the core definitions with the real terminology."""

from __future__ import annotations

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.outcome import Issue
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator


@pytest.fixture(scope="session")
def terminology(conformance: Conformance) -> Terminology:
    return Terminology(conformance)


@pytest.fixture(scope="session")
def validator(model: Model, conformance: Conformance, terminology: Terminology) -> Validator:
    """Base R4 validation with the node's terminology over the core value sets."""
    return Validator(model, conformance, terminology)


def errors(issues: list[Issue]) -> list[Issue]:
    return [issue for issue in issues if issue.severity == "error"]


def found(issues: list[Issue], severity: str, code: str, expression: str) -> list[Issue]:
    """The issues with exactly this severity, code and expression."""
    return [i for i in issues if i.severity == severity and i.code == code and i.expression == [expression]]


def assert_issue(issues: list[Issue], severity: str, code: str, expression: str, text: str = "") -> Issue:
    """Exactly one issue of this kind at this place (its diagnostics containing ``text``)."""
    matching = [i for i in found(issues, severity, code, expression) if text in i.diagnostics]
    assert len(matching) == 1, f"expected one {severity}/{code} at {expression} ({text!r}), got {issues}"
    return matching[0]


def assert_valid(issues: list[Issue]) -> None:
    assert errors(issues) == [], errors(issues)
