"""A FHIRPath compiler for the invariants of StructureDefinitions, working on FHIR JSON directly.

Invariants run on every element of every write, so each expression is parsed once into nested
closures. fhirpathpy would cost 15-50 us per evaluation and lacks ``hasValue()``, which a dozen R4
invariants use; this compiler covers the FHIRPath the R4 core and the Dutch profiles write (paths,
choice types, three-valued logic, equality and ordering of FHIR primitives, the collection, string
and type functions, ``extension(url)``, ``resolve()`` of contained and bundled resources,
``memberOf`` through the terminology service). An expression outside it raises :class:`Unsupported`
at compile time, so the caller can use another engine.
"""

from samen.fhir.validation.fhirpath.compiler import compile_expression
from samen.fhir.validation.fhirpath.items import (
    Env, EvaluationError, Evaluate, Item, item_of, resource_env, resource_item, resource_type_of, truth,
)
from samen.fhir.validation.fhirpath.parser import Unsupported, focus_names

__all__ = [
    "Env", "EvaluationError", "Evaluate", "Item", "Unsupported", "compile_expression", "focus_names", "item_of",
    "resource_env", "resource_item", "resource_type_of", "truth",
]
