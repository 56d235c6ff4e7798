"""FHIR XML -> the JSON form of a resource (the dict that orjson gives for the same resource in FHIR JSON).

The parser is lxml with no DTD, no entity expansion and no network; a document with a DOCTYPE is
refused. Comments and processing instructions are dropped, whitespace between elements ignored.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NoReturn

from lxml import etree

from samen.fhir.xml_layout import (
    COMPLEX, FHIR_NS, FHIR_TAG, PRIMITIVE, RESOURCE, XHTML, XHTML_NS, Context, Layout, XmlFormatError,
)

_EXTENSION = FHIR_TAG + "extension"
# the R4 regexes of the integer types (no leading zeros; a plus sign only on a positiveInt)
_INTEGERS = {
    "integer": re.compile(r"-?(?:0|[1-9][0-9]*)"),
    "unsignedInt": re.compile(r"0|[1-9][0-9]*"),
    "positiveInt": re.compile(r"\+?[1-9][0-9]*"),
}
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_FLOAT_MARKS = frozenset(".eE")
_POSITION = re.compile(r", line \d+, column \d+$")  # lxml's message ends with where it is: said once, by us

_parsers = threading.local()


def _parser(for_text: bool) -> etree.XMLParser:
    """A per-thread parser (lxml parsers must not be shared between threads at the same time)."""
    name = "text" if for_text else "bytes"
    parser = getattr(_parsers, name, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            encoding="utf-8" if for_text else None,
        )
        setattr(_parsers, name, parser)
    return parser


def parse_xml(data: bytes | str) -> etree._Element:
    """The root element of an XML document, parsed safely; XmlFormatError when it is no well-formed XML."""
    if isinstance(data, str):
        data, for_text = data.encode("utf-8"), True
    else:
        for_text = False
    if not data:
        raise XmlFormatError("The XML document is empty")
    try:
        root = etree.fromstring(data, _parser(for_text))
    except etree.XMLSyntaxError as error:
        message = _POSITION.sub("", error.msg or "syntax error")
        raise XmlFormatError(f"Malformed XML: {message}", error.lineno, error.offset or None) from None
    if root.getroottree().docinfo.doctype:
        raise XmlFormatError("FHIR XML must not have a DOCTYPE (DTDs and entities are refused)")
    return root


# -- primitive values --------------------------------------------------------------------------


def _boolean(text: str, line: int | None) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise XmlFormatError(f"'{text}' is not a boolean (true or false)", line)


def _integer_of(type_code: str) -> Converter:
    pattern = _INTEGERS[type_code]
    article = "an" if type_code[0] in "iu" else "a"

    def integer(text: str, line: int | None) -> int:
        if not pattern.fullmatch(text):
            raise XmlFormatError(f"'{text}' is not {article} {type_code}", line)
        return int(text)

    return integer


def _decimal_number(text: str, line: int | None) -> int | float:
    """As orjson reads the same JSON number: an int without fraction or exponent, else a float."""
    if not _FLOAT_MARKS.intersection(text):
        return int(_decimal_text(text, line))
    return float(_decimal_text(text, line))


def _decimal_exact(text: str, line: int | None) -> Decimal:
    return Decimal(_decimal_text(text, line))


def _decimal_text(text: str, line: int | None) -> str:
    """The text of a decimal that a JSON number can hold (orjson refuses one beyond a double's range)."""
    if not _DECIMAL.fullmatch(text):
        raise XmlFormatError(f"'{text}' is not a decimal", line)
    if math.isinf(float(text)):
        raise XmlFormatError(f"'{text}' is outside the range of a decimal", line)
    return text


Converter = Callable[[str, "int | None"], Any]
_CONVERTERS: dict[str, Converter] = {
    "boolean": _boolean,
    **{type_code: _integer_of(type_code) for type_code in _INTEGERS},
    "decimal": _decimal_number,
}
_EXACT_CONVERTERS: dict[str, Converter] = {**_CONVERTERS, "decimal": _decimal_exact}


# -- elements ----------------------------------------------------------------------------------


class Reader:
    """One conversion: the layout, and how decimals are read (numbers or exact Decimals)."""

    __slots__ = ("layout", "contexts", "converters")

    def __init__(self, layout: Layout, exact_decimals: bool) -> None:
        self.layout = layout
        self.contexts = layout.contexts
        self.converters = _EXACT_CONVERTERS if exact_decimals else _CONVERTERS

    def resource(self, element: etree._Element) -> dict[str, Any]:
        tag = element.tag
        if not isinstance(tag, str) or not tag.startswith(FHIR_TAG):
            namespace = etree.QName(element).namespace if isinstance(tag, str) else None
            raise XmlFormatError(
                f"Expected a FHIR resource in the namespace {FHIR_NS}, found <{etree.QName(element).localname}>"
                + (f" in namespace {namespace}" if namespace else " in no namespace"),
                element.sourceline,
            )
        res_type = tag[len(FHIR_TAG) :]
        if res_type not in self.layout.resource_types:
            raise XmlFormatError(f"Unknown resource type '{res_type}'", element.sourceline)
        result: dict[str, Any] = {"resourceType": res_type}
        self._children(element, res_type, result)
        return result

    def _complex(self, element: etree._Element, context: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self._children(element, context, result)
        return result

    def _children(self, element: etree._Element, context_name: str, result: dict[str, Any]) -> None:
        context = self.contexts.get(context_name) or self.layout.context(context_name)
        for name, value in element.items():
            slot = context.attributes.get(name)
            if slot is not None:
                result[slot.json_name] = value
            elif name[0] != "{":  # attributes of other namespaces (xsi:schemaLocation) carry no FHIR content
                raise XmlFormatError(f"Unexpected attribute '{name}' on <{_local(element)}>", element.sourceline)
        text = element.text
        if text is not None and not text.isspace():
            _unexpected_text(text, element)
        by_tag = context.by_tag
        # primitive lists are gathered per name, to align values with their id/extensions at the end
        primitive_lists: dict[str, tuple[list[Any], list[Any]]] | None = None
        for child in element:
            text = child.tail
            if text is not None and not text.isspace():
                _unexpected_text(text, element)
            slot = by_tag.get(child.tag)
            if slot is None:
                raise XmlFormatError(_unknown(child, context), child.sourceline)
            kind = slot.kind
            json_name = slot.json_name
            if kind == PRIMITIVE:
                value, extra = self._primitive(child, slot.type)
                if slot.repeats:
                    if primitive_lists is None:
                        primitive_lists = {}
                    lists = primitive_lists.get(json_name)
                    if lists is None:
                        lists = primitive_lists[json_name] = ([], [])
                        result[json_name] = None  # keeps the document order of the names
                    lists[0].append(value)
                    lists[1].append(extra)
                    continue
                if json_name in result or "_" + json_name in result:
                    raise XmlFormatError(_repeated(child, context), child.sourceline)
                if value is not None:
                    result[json_name] = value
                if extra is not None:
                    result["_" + json_name] = extra
                continue
            if kind == COMPLEX:
                value = self._complex(child, slot.context)
            elif kind == RESOURCE:
                value = self._contained(child)
            else:
                value = _xhtml(child)
            if slot.repeats:
                existing = result.get(json_name)
                if existing is None:
                    result[json_name] = [value]
                else:
                    existing.append(value)
            elif json_name in result:
                raise XmlFormatError(_repeated(child, context), child.sourceline)
            else:
                result[json_name] = value
        if primitive_lists:
            for json_name, (values, extras) in primitive_lists.items():
                if any(v is not None for v in values):
                    result[json_name] = values
                else:
                    del result[json_name]
                if any(e is not None for e in extras):
                    result["_" + json_name] = extras

    def _primitive(self, element: etree._Element, type_code: str) -> tuple[Any, dict[str, Any] | None]:
        """(the JSON value or None, the ``_name`` object with id/extension or None)."""
        value = None
        extra: dict[str, Any] | None = None
        for name, text in element.items():
            if name == "value":
                if not text:
                    raise XmlFormatError(f"<{_local(element)}> has an empty value attribute", element.sourceline)
                convert = self.converters.get(type_code)
                value = convert(text, element.sourceline) if convert is not None else text
            elif name == "id":
                extra = {"id": text}
            elif name[0] != "{":
                raise XmlFormatError(f"Unexpected attribute '{name}' on <{_local(element)}>", element.sourceline)
        text = element.text
        if text is not None and not text.isspace():
            _unexpected_text(text, element)
        if len(element):
            extensions = []
            for child in element:
                text = child.tail
                if text is not None and not text.isspace():
                    _unexpected_text(text, element)
                if child.tag != _EXTENSION:
                    raise XmlFormatError(
                        f"A primitive element can only hold extensions, not <{_local(child)}>", child.sourceline
                    )
                extensions.append(self._complex(child, "Extension"))
            extra = extra or {}
            extra["extension"] = extensions
        if value is None and extra is None:
            raise XmlFormatError(f"<{_local(element)}> has no value, id or extension", element.sourceline)
        return value, extra

    def _contained(self, element: etree._Element) -> dict[str, Any]:
        if element.attrib:
            raise XmlFormatError(f"<{_local(element)}> holds a resource and has no attributes", element.sourceline)
        text = element.text
        if text is not None and not text.isspace():
            _unexpected_text(text, element)
        children = list(element)
        if len(children) != 1:
            raise XmlFormatError(
                f"<{_local(element)}> must hold exactly one resource, found {len(children)} elements",
                element.sourceline,
            )
        text = children[0].tail
        if text is not None and not text.isspace():
            _unexpected_text(text, element)
        return self.resource(children[0])


def _xhtml(element: etree._Element) -> str:
    """The narrative as JSON carries it: the div serialized with its own namespace declaration."""
    # a copy drops the namespace declarations of the FHIR ancestors that the div does not use
    return etree.tostring(copy.deepcopy(element), encoding="unicode", with_tail=False)


def _unexpected_text(text: str, element: etree._Element) -> NoReturn:
    raise XmlFormatError(
        f"Unexpected text {text.strip()[:40]!r} in <{_local(element)}> (FHIR values are value attributes)",
        element.sourceline,
    )


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else "?"


def _unknown(element: etree._Element, context: Context) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # an entity reference left unresolved
        return "Entity references are not allowed in FHIR XML"
    namespace = etree.QName(tag).namespace
    local = _local(element)
    if local in context.elements and context.elements[local].kind == XHTML:
        return f"<div> in {context.name} must be in the XHTML namespace {XHTML_NS}"
    if namespace != FHIR_NS:
        where = f"namespace {namespace}" if namespace else "no namespace"
        return f"<{local}> in {context.name} is in {where}, not the FHIR namespace {FHIR_NS}"
    return f"Unknown element '{local}' in {context.name}"


def _repeated(element: etree._Element, context: Context) -> str:
    return f"Element '{_local(element)}' does not repeat in {context.name}"


def parse_resource(data: bytes | str, layout: Layout, *, exact_decimals: bool = False) -> dict[str, Any]:
    """See :func:`samen.fhir.xml.parse_resource`."""
    return Reader(layout, exact_decimals).resource(parse_xml(data))
