"""The JSON form of a resource -> FHIR XML, elements in StructureDefinition order.

The XML is written as text (no tree is built): element and attribute names come from the model,
values are escaped for attributes, and the narrative is parsed and written again by lxml so that
only a well-formed XHTML ``div`` reaches the output.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from lxml import etree

from samen.fhir.xml_layout import COMPLEX, FHIR_NS, PRIMITIVE, RESOURCE, XHTML_NS, Context, Layout, XmlFormatError
from samen.fhir.xml_read import parse_xml

_XHTML_DIV = "{" + XHTML_NS + "}div"
# what an attribute value cannot hold as it is: markup, and white space other than a plain space
_SPECIAL = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


class Writer:
    __slots__ = ("layout", "contexts", "out")

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.contexts = layout.contexts
        self.out: list[str] = []

    def resource(self, resource: Any, root: bool = False) -> None:
        if not isinstance(resource, dict):
            raise XmlFormatError(f"A resource must be a JSON object, not {_kind_of(resource)}")
        res_type = resource.get("resourceType")
        if not isinstance(res_type, str) or res_type not in self.layout.resource_types:
            raise XmlFormatError(f"Not a resource: unknown resourceType {res_type!r}")
        self._element(res_type, f' xmlns="{FHIR_NS}"' if root else "", resource, self.layout.context(res_type))

    def _element(self, tag: str, attributes: str, data: dict[str, Any], context: Context) -> None:
        """``<tag attributes>children</tag>``, or ``<tag attributes/>`` when there are no children."""
        out = self.out
        out.append(f"<{tag}{attributes}")
        start = len(out)
        self._children(data, context)
        if len(out) == start:
            out.append("/>")
        else:
            out[start - 1] += ">"
            out.append(f"</{tag}>")

    def _children(self, data: dict[str, Any], context: Context) -> None:
        positions = context.positions
        try:
            names = sorted(data, key=positions.__getitem__)
        except KeyError as error:
            raise XmlFormatError(f"Unknown element '{error.args[0]}' in {context.name}") from None
        done = None
        for name in names:
            slot = positions[name][1]
            if slot is None or slot is done or slot.attribute:  # "name" and "_name" are written together
                continue
            done = slot
            json_name = slot.json_name
            value = data.get(json_name)
            kind = slot.kind
            if kind == PRIMITIVE:
                extra = data.get("_" + json_name)
                if slot.repeats:
                    self._primitive_list(json_name, value, extra, context)
                elif isinstance(value, list) or isinstance(extra, list):
                    raise XmlFormatError(f"'{json_name}' in {context.name} does not repeat")
                elif value is not None or extra is not None:
                    self._primitive(json_name, value, extra, context)
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
            if kind == COMPLEX:
                child_context = self.contexts.get(slot.context) or self.layout.context(slot.context)
                for item in items:
                    if not isinstance(item, dict):
                        raise XmlFormatError(
                            f"'{json_name}' in {context.name} must be an object, not {_kind_of(item)}"
                        )
                    self._element(json_name, _attributes(item, child_context), item, child_context)
            elif kind == RESOURCE:
                for item in items:
                    self.out.append(f"<{json_name}>")
                    self.resource(item)
                    self.out.append(f"</{json_name}>")
            else:
                self.out.append(_xhtml(value))

    def _primitive_list(self, name: str, values: Any, extras: Any, context: Context) -> None:
        if values is not None and not isinstance(values, list) or extras is not None and not isinstance(extras, list):
            raise XmlFormatError(f"'{name}' in {context.name} repeats: expected a list")
        if not extras:
            for value in values or ():
                if value is not None:
                    self.out.append(f'<{name} value="{_text(value, name, context)}"/>')
            return
        values = values or ()
        for i in range(max(len(values), len(extras))):
            value = values[i] if i < len(values) else None
            extra = extras[i] if i < len(extras) else None
            if value is not None or extra is not None:
                self._primitive(name, value, extra, context)

    def _primitive(self, name: str, value: Any, extra: Any, context: Context) -> None:
        """``<name id=".." value="..">`` with the extensions of ``_name``."""
        attributes = "" if value is None else f' value="{_text(value, name, context)}"'
        if extra is None:
            self.out.append(f"<{name}{attributes}/>")
            return
        if not isinstance(extra, dict) or not extra.keys() <= {"id", "extension"}:
            raise XmlFormatError(f"'_{name}' in {context.name} may only hold id and extension")
        if "id" in extra:
            attributes = f' id="{_text(extra["id"], "id", context)}"' + attributes
        extensions = extra.get("extension")
        if not extensions:
            self.out.append(f"<{name}{attributes}/>")
            return
        if not isinstance(extensions, list):
            raise XmlFormatError(f"'_{name}.extension' in {context.name} repeats: expected a list")
        self.out.append(f"<{name}{attributes}>")
        extension_context = self.layout.context("Extension")
        for extension in extensions:
            if not isinstance(extension, dict):
                raise XmlFormatError(f"An extension of '{name}' in {context.name} must be an object")
            self._element("extension", _attributes(extension, extension_context), extension, extension_context)
        self.out.append(f"</{name}>")


def _attributes(data: dict[str, Any], context: Context) -> str:
    """The XML attributes of a complex element: its id (and an extension's url)."""
    written = ""
    for name in context.attributes:
        value = data.get(name)
        if value is not None:
            written += f' {name}="{_text(value, name, context)}"'
    return written


def _text(value: Any, name: str, context: Context) -> str:
    """A primitive value as attribute text, escaped."""
    if isinstance(value, str):
        if _SPECIAL.search(value) is None:
            return value
        if _NOT_XML.search(value):
            raise XmlFormatError(f"'{name}' in {context.name} holds characters XML cannot carry")
        return value.translate(_ESCAPES)
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
        if not value.is_finite():
            raise XmlFormatError(f"'{name}' in {context.name} is not a finite number")
        return str(value)
    raise XmlFormatError(f"'{name}' in {context.name} must be a primitive value, not {_kind_of(value)}")


def _xhtml(value: Any) -> str:
    """The narrative div, checked to be well-formed XHTML and written with its namespace."""
    if not isinstance(value, str):
        raise XmlFormatError(f"Narrative div must be a string of XHTML, not {_kind_of(value)}")
    try:
        div = parse_xml(value)
        if div.tag == "div" and not div.nsmap:  # written without its namespace: the XHTML one is meant
            div = parse_xml(value.replace("<div", f'<div xmlns="{XHTML_NS}"', 1))
    except XmlFormatError as error:
        raise XmlFormatError(f"Narrative div is not well-formed XHTML: {error}") from None
    if div.tag != _XHTML_DIV:
        raise XmlFormatError(f"Narrative must be an XHTML <div>, found <{etree.QName(div).localname}>")
    return etree.tostring(div, encoding="unicode")


def _kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def serialize_resource(resource: dict[str, Any], layout: Layout) -> bytes:
    """See :func:`samen.fhir.xml.serialize_resource`."""
    writer = Writer(layout)
    writer.resource(resource, root=True)
    try:
        return "".join(writer.out).encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate
        raise XmlFormatError(f"The resource cannot be written as XML: {error.reason}") from None
