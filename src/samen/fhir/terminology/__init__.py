"""Terminology: code systems, value sets, code validation, lookup and expansion (see docs/terminology.md)."""

from samen.fhir.terminology.results import CodeResult, Lookup
from samen.fhir.terminology.service import Terminology

__all__ = ["CodeResult", "Lookup", "Terminology"]
