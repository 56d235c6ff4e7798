"""Conformance resources (StructureDefinitions, ValueSets, CodeSystems): the R4 core and loaded packages."""

from samen.fhir.conformance.registry import Conformance, ConformanceError

__all__ = ["Conformance", "ConformanceError"]
