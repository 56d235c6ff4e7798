"""What a resource must pass before it is written: the structural floor, then full validation.

Every write path (REST create/update/patch, Bundle entries, ``samen import``) asks one
:class:`Admission`, so no path can store a resource the others would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from samen.fhir.model import Model
from samen.fhir.outcome import FhirError, Issue
from samen.fhir.structure import check_resource

if TYPE_CHECKING:
    from samen.fhir.validation import Validator


class Admission:
    """Admits a resource or raises :class:`FhirError` (400 for no resource at all, 422 for invalid content)."""

    def __init__(self, model: Model, validator: Validator | None = None) -> None:
        self.model = model
        self.validator = validator  # None: validation switched off, only the structural floor

    def check(self, resource: Any, expected_type: str | None = None) -> list[Issue]:
        """Raise on errors; return the issues that do not block (warnings, information)."""
        issues = self.issues(resource, expected_type)
        errors = [issue for issue in issues if is_error(issue)]
        if errors:
            raise FhirError(422, _summary(errors), issues=errors + [i for i in issues if not is_error(i)])
        return issues

    def issues(self, resource: Any, expected_type: str | None = None, profiles: Sequence[str] = ()) -> list[Issue]:
        """Every issue found, errors included; raises only when there is no resource to validate at all."""
        try:
            check_resource(self.model, resource, expected_type)
        except FhirError as error:
            if error.status != 422:
                raise
            return error.issues  # the structural floor failed: the validator would only repeat it
        return self.validator.validate(resource, profiles) if self.validator is not None else []


def is_error(issue: Issue) -> bool:
    return issue.severity in ("error", "fatal")


def _summary(errors: list[Issue]) -> str:
    first = errors[0].diagnostics
    return first if len(errors) == 1 else f"{first} (and {len(errors) - 1} more errors)"
