"""The JSON form of a resource -> FHIR XML, elements in StructureDefinition order."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from lxml import etree

from samen.fhir.xml_layout import COMPLEX, FHIR_NS, PRIMITIVE, RESOURCE, XHTML_NS, Context, Layout, XmlFormatError
from samen.fhir.xml_read import parse_xml

_FHIR = "{" + FHIR_NS + "}"
_XHTML = "{" + XHTML_NS + "}"
_NSMAP = {None: FHIR_NS}
_SubElement = etree.SubElement


class Writer:
    __slots__ = ("layout",)

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def resource(self, parent: etree._Element | None, resource: Any) -> etree._Element:
        if not isinstance(resource, dict):
            raise XmlFormatError(f"A resource must be a JSON object, not {_kind_of(resource)}")
        res_type = resource.get("resourceType")
        if not isinstance(res_type, str) or res_type not in self.layout.resource_types:
            raise XmlFormatError(f"Not a resource: unknown resourceType {res_type!r}")
        tag = _FHIR + res_type
        element = etree.Element(tag, nsmap=_NSMAP) if parent is None else _SubElement(parent, tag)
        self._children(element, resource, self.layout.context(res_type))
        return element

    def _children(self, element: etree._Element, data: dict[str, Any], context: Context) -> None:
        positions = context.positions
        try:
            names = sorted(data, key=positions.__getitem__)
        except KeyError as error:
            raise XmlFormatError(f"Unknown element '{error.args[0]}' in {context.name}") from None
        done = None
        for name in names:
            slot = positions[name][1]
            if slot is None or slot is done:  # "name" and "_name" are written together
                continue
            done = slot
            json_name = slot.json_name
            value = data.get(json_name)
            if slot.attribute:
                if value is not None:
                    element.set(json_name, _text(value, json_name, context))
                continue
            kind = slot.kind
            if kind == PRIMITIVE:
                extra = data.get("_" + json_name)
                if slot.repeats:
                    self._primitive_list(element, json_name, value, extra, context)
                else:
                    self._primitive(element, json_name, value, extra, context)
                continue
            if value is None:
                continue
            if slot.repeats:
                if not isinstance(value, list):
                    raise XmlFormatError(f"'{json_name}' in {context.name} repeats: expected a list")
                items = value
            elif isinstance(value, list):
                raise XmlFormatError(f"'{json_name}' in {context.name} does not repeat")
            else:
                items = (value,)
            tag = _FHIR + json_name
            if kind == COMPLEX:
                child_context = self.layout.context(slot.context)
                for item in items:
                    if not isinstance(item, dict):
                        raise XmlFormatError(
                            f"'{json_name}' in {context.name} must be an object, not {_kind_of(item)}"
                        )
                    self._children(_SubElement(element, tag), item, child_context)
            elif kind == RESOURCE:
                for item in items:
                    self.resource(_SubElement(element, tag), item)
            else:
                element.append(_xhtml(value))

    def _primitive(self, parent: etree._Element, name: str, value: Any, extra: Any, context: Context) -> None:
        if isinstance(value, list) or isinstance(extra, list):
            raise XmlFormatError(f"'{name}' in {context.name} does not repeat")
        if value is None and extra is None:
            return
        self._primitive_element(parent, _FHIR + name, value, extra, name, context)

    def _primitive_list(self, parent: etree._Element, name: str, values: Any, extras: Any, context: Context) -> None:
        if values is not None and not isinstance(values, list) or extras is not None and not isinstance(extras, list):
            raise XmlFormatError(f"'{name}' in {context.name} repeats: expected a list")
        values = values or ()
        extras = extras or ()
        tag = _FHIR + name
        for i in range(max(len(values), len(extras))):
            value = values[i] if i < len(values) else None
            extra = extras[i] if i < len(extras) else None
            if value is None and extra is None:
                continue
            self._primitive_element(parent, tag, value, extra, name, context)

    def _primitive_element(
        self, parent: etree._Element, tag: str, value: Any, extra: Any, name: str, context: Context
    ) -> None:
        """``<name id=".." value="..">`` with the extensions of ``_name``."""
        element = _SubElement(parent, tag)
        if extra is not None and (not isinstance(extra, dict) or not extra.keys() <= {"id", "extension"}):
            raise XmlFormatError(f"'_{name}' in {context.name} may only hold id and extension")
        if extra and "id" in extra:
            element.set("id", _text(extra["id"], "id", context))
        if value is not None:
            element.set("value", _text(value, name, context))
        extensions = extra.get("extension") if extra else None
        if extensions:
            extension_context = self.layout.context("Extension")
            for extension in extensions:
                if not isinstance(extension, dict):
                    raise XmlFormatError(f"An extension of '{name}' in {context.name} must be an object")
                self._children(_SubElement(element, _FHIR + "extension"), extension, extension_context)


def _text(value: Any, name: str, context: Context) -> str:
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise XmlFormatError(f"'{name}' in {context.name} is not a finite number")
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    raise XmlFormatError(f"'{name}' in {context.name} must be a primitive value, not {_kind_of(value)}")


def _xhtml(value: Any) -> etree._Element:
    if not isinstance(value, str):
        raise XmlFormatError(f"Narrative div must be a string of XHTML, not {_kind_of(value)}")
    try:
        div = parse_xml(value)
    except XmlFormatError as error:
        raise XmlFormatError(f"Narrative div is not well-formed XHTML: {error}") from None
    if div.tag == "div" and not div.nsmap:  # written without its namespace: the XHTML one is meant
        div = parse_xml(value.replace("<div", f'<div xmlns="{XHTML_NS}"', 1))
    if div.tag != _XHTML + "div":
        raise XmlFormatError(f"Narrative must be an XHTML <div>, found <{etree.QName(div).localname}>")
    return div


def _kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def serialize_resource(resource: dict[str, Any], layout: Layout) -> bytes:
    """See :func:`samen.fhir.xml.serialize_resource`."""
    try:
        return etree.tostring(Writer(layout).resource(None, resource), encoding="UTF-8")
    except XmlFormatError:
        raise
    except ValueError as error:  # lxml refuses text that XML cannot hold (NUL, control characters)
        raise XmlFormatError(f"The resource cannot be written as XML: {error}") from None
