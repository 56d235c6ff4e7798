"""Validation of FHIR R4 resources against the core definitions and profiles (see docs/validation.md)."""

from samen.fhir.validation.bindings import CodeCheck, CodeValidator
from samen.fhir.validation.validator import Validator

__all__ = ["CodeCheck", "CodeValidator", "Validator"]
