"""Minimal instances of any R4 resource type, built from its StructureDefinition: every required
element gets a plain value of its type (a code from its required value set), nothing else."""

from __future__ import annotations

from typing import Any

from samen.fhir.conformance import Conformance
from samen.fhir.terminology import Terminology

SAMPLES: dict[str, Any] = {
    "boolean": True, "integer": 1, "positiveInt": 1, "unsignedInt": 0, "decimal": 1.5, "string": "x",
    "markdown": "x", "code": "x", "id": "a1", "uri": "http://example.org/x", "url": "http://example.org/x",
    "canonical": "http://example.org/x", "oid": "urn:oid:1.2.3", "uuid": "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f",
    "date": "2024-01-01", "dateTime": "2024-01-01T10:00:00Z", "instant": "2024-01-01T10:00:00Z", "time": "10:00:00",
    "base64Binary": "AAAA", "xhtml": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
}
UNLISTED_CODES = {  # value sets of code systems the node knows by syntax only
    "http://hl7.org/fhir/ValueSet/mimetypes": "application/fhir+json",
    "http://hl7.org/fhir/ValueSet/all-languages": "nl-NL",
    "http://hl7.org/fhir/ValueSet/ucum-units": "mg",
}
_SYSTEM_TYPE = "http://hl7.org/fhirpath/System."


class MinimalInstances:
    def __init__(self, conformance: Conformance, terminology: Terminology) -> None:
        self.conformance = conformance
        self.terminology = terminology

    def resource(self, resource_type: str) -> dict[str, Any]:
        elements = self.conformance.type_definition(resource_type)["snapshot"]["element"]
        return {"resourceType": resource_type, **self._object(elements, resource_type)}

    def _object(self, elements: list[dict[str, Any]], path: str) -> dict[str, Any]:
        children = [e for e in elements if e["path"].rsplit(".", 1)[0] == path and "sliceName" not in e
                    and e["path"] != path]
        value = {}
        for element in children:
            if element["min"] > 0:
                name, sample = self._element(elements, element)
                value[name] = [sample] if element["max"] != "1" else sample
        if not value:  # an element must have some content: the first primitive child will do
            for element in children:
                codes = [t["code"] for t in element.get("type", ())]
                if codes and codes[0] in SAMPLES and not element["path"].endswith(".id"):
                    name, sample = self._element(elements, element)
                    value[name] = [sample] if element["max"] != "1" else sample
                    break
        return value

    def _element(self, elements: list[dict[str, Any]], element: dict[str, Any]) -> tuple[str, Any]:
        path = element["path"]
        name = path.rsplit(".", 1)[1]
        types = element.get("type") or [{"code": "BackboneElement"}]
        code = types[0]["code"]
        if code.startswith(_SYSTEM_TYPE):
            code = "string"
        if name.endswith("[x]"):
            name = name[:-3] + code[0].upper() + code[1:]
        if "contentReference" in element:
            return name, self._object(elements, element["contentReference"][1:])
        if code in ("BackboneElement", "Element"):
            return name, self._object(elements, path)
        if code == "Resource":
            return name, {"resourceType": "Basic", "code": {"text": "x"}}
        if code == "code" and element.get("binding", {}).get("strength") == "required":
            return name, self._first_code(element["binding"]["valueSet"])
        if code in SAMPLES:
            return name, SAMPLES[code]
        if code == "CodeableConcept":
            return name, {"text": "x"}
        if code == "Reference":
            return name, {"display": "x"}
        type_elements = self.conformance.type_definition(code)["snapshot"]["element"]
        return name, self._object(type_elements, code)

    def _first_code(self, value_set: str) -> str:
        url = value_set.split("|")[0]
        if url in UNLISTED_CODES:
            return UNLISTED_CODES[url]
        expansion = self.terminology.expand(url, count=1)
        return expansion["expansion"]["contains"][0]["code"]
