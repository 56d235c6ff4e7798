"""How the FHIR model maps onto XML, precomputed once per context for the reader and the writer.

In FHIR XML (http://hl7.org/fhir/R4/xml.html) every element of a resource or datatype is an XML
element in the FHIR namespace, named as its JSON property (``valueQuantity`` for a choice), with
three exceptions that are attributes: a primitive's ``value``, ``Element.id`` (the ``id`` of every
datatype and backbone element; a resource's own ``id`` stays an element) and ``Extension.url``.
A Resource-typed element (``contained``, ``Bundle.entry.resource``, ...) wraps the resource's
own root element, and ``Narrative.div`` is XHTML in the XHTML namespace.

A :class:`Layout` holds, per context (a datatype name or a backbone path such as
``Patient.contact``), one :class:`Slot` per XML element name and the slots in definition order,
so that neither direction ever scans the model per element.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from samen.fhir.model import PRIMITIVE_TYPES, Model

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
FHIR_TAG = "{" + FHIR_NS + "}"  # the prefix of a FHIR element's namespaced tag
XHTML_TAG = "{" + XHTML_NS + "}div"

PRIMITIVE = 0
COMPLEX = 1
RESOURCE = 2  # a Resource-typed element: wraps one resource root element
XHTML = 3  # Narrative.div


class XmlFormatError(ValueError):
    """The input is no FHIR XML (or a resource cannot be written as FHIR XML); ``line`` when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}" if line and column else f"line {line}" if line else ""
        super().__init__(f"{message} ({where})" if where else message)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Slot:
    """One element of a context as it appears in XML (and, under ``json_name``, in JSON)."""

    json_name: str
    type: str  # the FHIR type code; "" when the element is a backbone element
    kind: int  # PRIMITIVE, COMPLEX, RESOURCE or XHTML
    repeats: bool
    context: str  # where a complex element's children are described
    attribute: bool  # written as an XML attribute (Element.id, Extension.url)


@dataclass(frozen=True, slots=True)
class Context:
    """The XML shape of one context: its elements by XML name, its attributes, and definition order."""

    name: str
    elements: dict[str, Slot]  # by XML name
    attributes: dict[str, Slot]
    by_tag: dict[str, Slot]  # the elements by their namespaced tag, "{http://hl7.org/fhir}name" (for the reader)
    # for the writer: every JSON name (and "_" form of a primitive) -> (definition position, slot)
    positions: dict[str, tuple[int, Slot | None]]  # "resourceType" has no slot


class Layout:
    """Per-context XML slots for one model, built on first use of each context."""

    def __init__(self, model: Model) -> None:
        self._model = weakref.ref(model)  # weak: the layout is cached per model and must not keep it alive
        self.resource_types = model.resource_types
        self.contexts: dict[str, Context] = {}  # read-only for callers: the contexts built so far
        self._lock = threading.Lock()

    def context(self, name: str) -> Context:
        found = self.contexts.get(name)
        if found is None:
            with self._lock:
                found = self.contexts.get(name) or self._build(name)
                self.contexts[name] = found
        return found

    def _build(self, name: str) -> Context:
        is_resource = name in self.resource_types or name in ("Resource", "DomainResource")
        elements: dict[str, Slot] = {}
        attributes: dict[str, Slot] = {}
        positions: dict[str, tuple[int, Slot | None]] = {"resourceType": (-1, None)} if is_resource else {}
        model = self._model()
        assert model is not None, "the model of this layout is gone"
        for info in model.children(name):
            attribute = (info.name == "id" and not is_resource) or (name == "Extension" and info.name == "url")
            for json_name, type_code in info.json_names():
                slot = Slot(
                    json_name=json_name,
                    type=type_code,
                    kind=_kind(type_code, self.resource_types),
                    repeats=info.repeats,
                    context=info.context or type_code,
                    attribute=attribute,
                )
                (attributes if attribute else elements)[json_name] = slot
                positions[json_name] = (len(positions), slot)
                if slot.kind == PRIMITIVE and not attribute:
                    positions["_" + json_name] = positions[json_name]
        by_tag = {(XHTML_TAG if slot.kind == XHTML else FHIR_TAG + xml_name): slot for xml_name, slot in elements.items()}
        return Context(name, elements, attributes, by_tag, positions)


def _kind(type_code: str, resource_types: frozenset[str]) -> int:
    if type_code == "xhtml":
        return XHTML
    if type_code in PRIMITIVE_TYPES:
        return PRIMITIVE
    if type_code == "Resource" or type_code in resource_types:  # Bundle.entry.response.outcome: OperationOutcome
        return RESOURCE
    return COMPLEX


_layouts: weakref.WeakKeyDictionary[Model, Layout] = weakref.WeakKeyDictionary()
_layouts_lock = threading.Lock()


def layout_for(model: Model) -> Layout:
    """The (shared) layout of ``model``."""
    layout = _layouts.get(model)
    if layout is None:
        with _layouts_lock:
            layout = _layouts.get(model)
            if layout is None:
                layout = _layouts[model] = Layout(model)
    return layout
