"""What the terminology service answers: a code check and a code lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from samen.fhir.validation.bindings import CodeCheck


@dataclass(frozen=True)
class CodeResult(CodeCheck):
    """A :class:`CodeCheck` with the display the code system recommends (``$validate-code`` returns it).

    ``valid`` True with a message is a warning (an inactive code, a display that does not match).
    """

    display: str | None = None


@dataclass(frozen=True)
class Lookup:
    """A concept as ``CodeSystem/$lookup`` describes it."""

    system: str
    name: str
    version: str | None
    code: str
    display: str | None
    definition: str | None
    designations: tuple[dict[str, Any], ...]
    properties: tuple[dict[str, Any], ...]  # code + value[x], including ``parent`` and ``child``
    abstract: bool
    inactive: bool
