"""FHIRPath items and the environment of an evaluation, and how items compare.

An item is ``(value, type, context, sidecar)``: the JSON value, its FHIR type code, where the model
describes its children (a type name or a backbone path), and for primitives the ``_name`` object
holding their id and extensions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from samen.fhir.model import Model
from samen.fhir.primitives import date_range
from samen.fhir.validation.bindings import CodeValidator

Item = tuple[Any, str, str, Any]
Evaluate = Callable[[list[Item], "Env"], list[Item]]


class EvaluationError(ValueError):
    """The expression cannot be evaluated on this input (e.g. a boolean operator on several items)."""


@dataclass(slots=True)
class Env:
    """The environment of one evaluation: FHIRPath's %resource, %rootResource, %context and $this,
    and the nearest Bundle that is or holds %resource (where references between entries resolve)."""

    resource: Item
    root: Item
    context: Item
    terminology: CodeValidator | None = None
    this: Item | None = None
    index: int = 0
    resource_path: str = ""  # where %resource, %rootResource and the Bundle are in the instance, for issues
    root_path: str = ""
    bundle: Item | None = None
    bundle_path: str = ""
    lookups: dict[tuple[int, str], Any] = field(default_factory=dict)  # indexes of one validation, by object

    def inside(self, resource: Item, path: str, contained: bool) -> Env:
        """The environment of a resource inside this one's: a contained resource has its container
        as %rootResource; a Bundle entry's or a parameter's resource is a root itself."""
        root, root_path = (self.resource, self.resource_path) if contained else (resource, path)
        return Env(resource, root, resource, self.terminology, resource_path=path, root_path=root_path,
                   bundle=resource if resource[1] == "Bundle" else self.bundle,
                   bundle_path=path if resource[1] == "Bundle" else self.bundle_path, lookups=self.lookups)


def resource_env(resource: Item, path: str, terminology: CodeValidator | None) -> Env:
    """The environment of the resource at the top of an instance."""
    bundle = resource if resource[1] == "Bundle" else None
    return Env(resource, resource, resource, terminology, resource_path=path, root_path=path, bundle=bundle,
               bundle_path=path)


def item_of(value: Any, fhir_type: str, context: str | None = None, sidecar: Any = None) -> Item:
    """The item for a JSON value of a known FHIR type (a resource's type is read from the value)."""
    if fhir_type == "Resource" and type(value) is dict:
        fhir_type = context = resource_type_of(value)
    return (value, fhir_type, context if context is not None else fhir_type, sidecar)


def resource_item(resource: dict[str, Any]) -> Item:
    resource_type = resource_type_of(resource)
    return (resource, resource_type, resource_type, None)


def resource_type_of(resource: dict[str, Any]) -> str:
    """A resource's type, ``Resource`` when its resourceType is no string (the walker reports that)."""
    resource_type = resource.get("resourceType")
    return resource_type if type(resource_type) is str else "Resource"


def truth(items: list[Item]) -> bool | None:
    """FHIRPath's singleton evaluation of a collection as a boolean (None for empty)."""
    if not items:
        return None
    if len(items) > 1:
        raise EvaluationError("a boolean was expected, found a collection of several items")
    value = items[0][0]
    return value if type(value) is bool else True


_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_STRING_TYPES = frozenset(
    {"string", "code", "id", "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "xhtml"}
)
_INTEGER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt"})
_QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"})
_SYSTEM_TYPES = {
    "String": _STRING_TYPES,
    "Integer": _INTEGER_TYPES,
    "Decimal": frozenset({"decimal"}),
    "Boolean": frozenset({"boolean"}),
    "Date": frozenset({"date"}),
    "DateTime": frozenset({"dateTime", "instant"}),
    "Time": frozenset({"time"}),
    "Quantity": _QUANTITY_TYPES,
}


def type_matches(model: Model, fhir_type: str, name: str) -> bool:
    if fhir_type == name:
        return True
    if name in _SYSTEM_TYPES:
        return fhir_type in _SYSTEM_TYPES[name]
    if name == "Quantity":
        return fhir_type in _QUANTITY_TYPES
    if name in ("Resource", "DomainResource"):
        domain = name == "Resource" or fhir_type not in ("Bundle", "Binary", "Parameters")
        return fhir_type in model.resource_types and domain
    if name in ("uri", "string"):
        return fhir_type in (("url", "canonical", "oid", "uuid") if name == "uri" else ("code", "id", "markdown"))
    return False


def number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def values_equal(a: Item, b: Item) -> bool | None:
    """FHIRPath ``=`` of two single items; None when undecidable (dates of different precision)."""
    va, vb = a[0], b[0]
    if a[1] in _DATE_TYPES or b[1] in _DATE_TYPES:
        if type(va) is str and type(vb) is str and len(va) != len(vb) and (len(va) < 11 or len(vb) < 11):
            return None
    if type(va) is bool or type(vb) is bool:
        return type(va) is type(vb) and va == vb
    if isinstance(va, (int, float, Decimal)) and isinstance(vb, (int, float, Decimal)):
        return number(va) == number(vb)
    return va == vb


def compare(a: Item, b: Item) -> int | None:
    """-1, 0 or 1 for two ordered items; None when the order is undecidable."""
    va, vb = a[0], b[0]
    if isinstance(va, (int, float, Decimal)) and isinstance(vb, (int, float, Decimal)) and type(va) is not bool:
        va, vb = number(va), number(vb)
        return (va > vb) - (va < vb)
    if type(va) is str and type(vb) is str:
        if a[1] in _DATE_TYPES or b[1] in _DATE_TYPES:
            return _compare_dates(va, vb)
        return (va > vb) - (va < vb)
    if type(va) is dict and type(vb) is dict and a[1] in _QUANTITY_TYPES and b[1] in _QUANTITY_TYPES:
        if va.get("code", va.get("unit")) != vb.get("code", vb.get("unit")):
            return None
        return compare((va.get("value"), "decimal", "", None), (vb.get("value"), "decimal", "", None))
    raise EvaluationError(f"cannot compare {a[1]} with {b[1]}")


def _compare_dates(a: str, b: str) -> int | None:
    try:
        a_lo, a_hi = date_range(a)
        b_lo, b_hi = date_range(b)
    except ValueError:
        return None
    if a_hi < b_lo:
        return -1
    if b_hi < a_lo:
        return 1
    if (a_lo, a_hi) == (b_lo, b_hi):
        return 0
    return None


def distinct(items: list[Item]) -> list[Item]:
    """The items without repeats (equal by ``=`` and of one type), in linear time for primitives."""
    out: list[Item] = []
    seen_keys: set[tuple[str, bool, Any]] = set()
    seen_objects: list[Item] = []
    for item in items:
        key = _distinct_key(item)
        if key is None:
            if any(values_equal(item, seen) is True and item[1] == seen[1] for seen in seen_objects):
                continue
            seen_objects.append(item)
        elif key in seen_keys:
            continue
        else:
            seen_keys.add(key)
        out.append(item)
    return out


def _distinct_key(item: Item) -> tuple[str, bool, Any] | None:
    """A key equal for exactly the primitive items :func:`values_equal` finds equal (Decimals compare
    as floats, booleans only with booleans); None for objects, which are compared one by one."""
    value = item[0]
    if type(value) is dict or type(value) is list:
        return None
    return item[1], type(value) is bool, number(value)


def string_of(items: list[Item], what: str) -> str | None:
    if not items:
        return None
    if len(items) > 1:
        raise EvaluationError(f"{what}: a single value was expected")
    value = items[0][0]
    if type(value) is not str:
        raise EvaluationError(f"{what}: a string was expected")
    return value


def boolean(value: bool | None) -> list[Item]:
    return [] if value is None else [(value, "boolean", "boolean", None)]


TRUE = [(True, "boolean", "boolean", None)]
FALSE = [(False, "boolean", "boolean", None)]
