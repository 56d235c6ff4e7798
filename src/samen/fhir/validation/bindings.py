"""Terminology bindings: the interface the validator asks codes through.

The validator never decides membership of a code in a value set itself; it asks a
:class:`CodeValidator`, so the terminology service can be swapped (local expansion, remote server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
