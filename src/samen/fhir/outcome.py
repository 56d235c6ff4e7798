"""FHIR errors and OperationOutcomes.

Every layer raises :class:`FhirError` with the HTTP status the failure means in FHIR terms; the HTTP
layer is the only place that turns it into a response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # an IssueType code: invalid, not-found, conflict, processing, not-supported, ...
    diagnostics: str
    expression: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = self.expression
        return issue


class FhirError(Exception):
    """A failure with its FHIR meaning: HTTP status plus OperationOutcome issues."""

    def __init__(self, status: int, diagnostics: str, code: str = "processing", *, issues: list[Issue] | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.issues = issues or [Issue("error", code, diagnostics)]

    @property
    def message(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue.to_json() for issue in issues]}


def information(diagnostics: str) -> dict[str, Any]:
    return operation_outcome([Issue("information", "informational", diagnostics)])


def bad_request(diagnostics: str, code: str = "invalid") -> FhirError:
    return FhirError(400, diagnostics, code)


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, diagnostics, "not-found")


def gone(diagnostics: str) -> FhirError:
    return FhirError(410, diagnostics, "deleted")


def conflict(diagnostics: str) -> FhirError:
    return FhirError(409, diagnostics, "conflict")


def precondition_failed(diagnostics: str) -> FhirError:
    return FhirError(412, diagnostics, "conflict")


def unprocessable(diagnostics: str, expression: list[str] | None = None) -> FhirError:
    return FhirError(422, diagnostics, issues=[Issue("error", "invalid", diagnostics, expression or [])])
