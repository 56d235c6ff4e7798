"""Terminology bindings: the interface the validator asks codes through.

The validator never decides membership of a code in a value set itself; it asks a
:class:`CodeValidator`, so the terminology service can be swapped (local expansion, remote server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

_QUANTITIES = frozenset({"Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})
Coding = tuple[Any, str, Any]  # (system, code, display)


@dataclass(frozen=True)
class CodeCheck:
    """The answer about one code: ``valid`` is None when it cannot be decided (e.g. an intensional
    SNOMED CT value set without the terminology loaded) - the validator then reports information, never
    an error."""

    valid: bool | None
    message: str = ""


class CodeValidator(Protocol):
    def validate_code(self, value_set: str, system: str | None, code: str, display: str | None = None) -> CodeCheck:
        """Whether ``system|code`` is in the value set with canonical ``value_set`` (may carry ``|version``)."""
        ...


class Bindings:
    """Checks coded values against bindings through a :class:`CodeValidator`, remembering the
    answers: the same few codes (statuses, genders, units) come back on nearly every write."""

    def __init__(self, terminology: CodeValidator, size: int = 65536) -> None:
        self.terminology = terminology
        self._size = size
        self._answers: dict[tuple[str, str, tuple[Coding, ...]], tuple[str, str] | None] = {}

    def problem(self, strength: str, value_set: str, value: object, type_code: str) -> tuple[str, str] | None:
        """(severity, message) when a coded value breaks its binding: an error for a required
        binding, a warning for an extensible one; information when the terminology cannot decide."""
        codings = _codings(value, type_code)
        if not codings:
            return None
        key = (strength, value_set, codings)
        if key in self._answers:
            return self._answers[key]
        if len(self._answers) >= self._size:
            self._answers.clear()
        answer = self._answers[key] = _judge(self.terminology, strength, value_set, codings)
        return answer


def _judge(terminology: CodeValidator, strength: str, value_set: str,
           codings: tuple[Coding, ...]) -> tuple[str, str] | None:
    checks = [terminology.validate_code(value_set, system, code, display) for system, code, display in codings]
    valid = [check for check in checks if check.valid is True]
    if valid:
        remark = next((check.message for check in valid if check.message), "") if len(valid) == len(checks) else ""
        return ("warning", remark) if remark else None  # a display that does not match, an inactive code
    shown = ", ".join(f"{system}#{code}" if system else code for system, code, _ in codings)
    if any(check.valid is None for check in checks):
        reason = next(check.message for check in checks if check.valid is None)
        return "information", f"Could not check {shown} against the value set {value_set}: {reason}"
    reason = "; ".join(check.message for check in checks if check.message)
    detail = f" ({reason})" if reason else ""
    if strength == "required":
        return "error", f"The code {shown} is not in the value set {value_set}, and a code from it is required{detail}"
    return "warning", f"None of the codes {shown} are in the value set {value_set} (extensible binding){detail}"


def _codings(value: object, type_code: str) -> tuple[Coding, ...]:
    """The (system, code, display) triples of a coded value; empty for anything else."""
    if type(value) is str:
        return ((None, value, None),) if type_code in ("code", "string", "uri") else ()
    if type(value) is not dict:
        return ()
    if type_code in ("Coding", "Quantity") or type_code in _QUANTITIES:
        codings = [value]  # a Quantity's unit is bound through its system and code
    elif type_code == "CodeableConcept":
        listed = value.get("coding")
        codings = [c for c in listed if type(c) is dict] if type(listed) is list else []
    else:
        return ()
    return tuple(
        (_text(c.get("system")), c["code"], _text(c.get("display"))) for c in codings if type(c.get("code")) is str
    )


def _text(value: object) -> str | None:
    """A string property, None for anything else (malformed ones are reported by the base walk)."""
    return value if type(value) is str else None


def code_in_value_set(terminology: CodeValidator, value_set: str, item: tuple[Any, str, str, Any]) -> bool | None:
    """Whether a code, Coding or CodeableConcept item has a code in the value set (None: undecided)."""
    value, fhir_type = item[0], item[1]
    if type(value) is str:
        return terminology.validate_code(value_set, None, value).valid
    if type(value) is not dict:
        return None
    codings = value.get("coding", ()) if fhir_type == "CodeableConcept" else (value,)
    answers = [
        terminology.validate_code(value_set, coding.get("system"), coding["code"], coding.get("display")).valid
        for coding in codings
        if type(coding) is dict and type(coding.get("code")) is str
    ]
    if any(answer is True for answer in answers):
        return True
    return False if answers and all(answer is False for answer in answers) else None
