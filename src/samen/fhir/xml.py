"""FHIR XML (``application/fhir+xml``) to and from the JSON form of a resource.

    parse_resource(data, model)        XML bytes/str -> dict, as orjson gives for the same resource in JSON
    serialize_resource(resource, model) dict -> XML bytes (UTF-8), elements in StructureDefinition order

Both raise :class:`XmlFormatError` (a ValueError) with a clear message, and the line number when the
input has one.

Decimals. JSON has one number type and orjson reads ``1.50`` as the float ``1.5``; that is what
the node stores, so by default XML decimals become int or float exactly as the same JSON would.
Where a conversion must be lossless (XML -> JSON -> XML keeps ``1.50``), ask for
``exact_decimals=True``: decimals are read as :class:`decimal.Decimal`, written back digit for
digit, and :func:`dumps_exact` / :func:`loads_exact` carry them through JSON text unchanged
(orjson writes a Decimal as an ``orjson.Fragment`` of its text; the reverse reads JSON numbers with
a fraction or exponent as Decimal). The writer accepts int, float and Decimal for a decimal.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from samen.fhir import xml_read, xml_write
from samen.fhir.model import Model
from samen.fhir.xml_layout import FHIR_NS, XHTML_NS, XmlFormatError, layout_for

__all__ = [
    "FHIR_NS",
    "XHTML_NS",
    "XmlFormatError",
    "dumps_exact",
    "loads_exact",
    "parse_resource",
    "serialize_resource",
]


def parse_resource(data: bytes | str, model: Model, *, exact_decimals: bool = False) -> dict[str, Any]:
    """A FHIR XML resource as its FHIR JSON dict (decimals as Decimal with ``exact_decimals``)."""
    return xml_read.parse_resource(data, layout_for(model), exact_decimals=exact_decimals)


def serialize_resource(resource: dict[str, Any], model: Model) -> bytes:
    """A resource in its FHIR JSON form as FHIR XML (UTF-8 bytes, no XML declaration)."""
    return xml_write.serialize_resource(resource, layout_for(model))


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps_exact(resource: Any) -> bytes:
    """JSON bytes of a resource whose decimals may be Decimal (written with their own digits)."""
    return orjson.dumps(resource, default=_fragment)


def loads_exact(data: bytes | str) -> Any:
    """JSON text to Python with every non-integer number as Decimal (the reverse of :func:`dumps_exact`)."""
    return json.loads(data, parse_float=Decimal)
