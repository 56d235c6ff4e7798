"""One line of text for a FHIR resource of the BgZ, as a clinician reads it: what, the value, and when.

Only what the resource says in its own words (text or the display of a coding); nothing is looked up.
"""

from __future__ import annotations

from typing import Any

from samen.apps.clinician.patients import person_name

_WHAT = ("code", "medicationCodeableConcept", "vaccineCode", "type", "class", "category", "relationship",
         "payor", "provision", "role")
_WHEN = ("effectiveDateTime", "onsetDateTime", "recordedDate", "occurrenceDateTime", "performedDateTime",
         "authoredOn", "whenHandedOver", "dateAsserted", "date", "issued", "dateTime", "start")
_PERIODS = ("period", "effectivePeriod", "performedPeriod", "onsetPeriod", "timingPeriod", "validityPeriod")


def concept_text(value: Any) -> str:
    """The words of a CodeableConcept, Coding, Reference or list of them."""
    if isinstance(value, list):
        return ", ".join(text for text in (concept_text(item) for item in value) if text)
    if not isinstance(value, dict):
        return str(value) if value not in (None, "") else ""
    if value.get("text"):
        return str(value["text"])
    if value.get("display"):
        return str(value["display"])
    codings = value.get("coding") or []
    return next((str(c.get("display") or c.get("code")) for c in codings if c.get("display") or c.get("code")), "")


def what(resource: dict[str, Any]) -> str:
    res_type = resource.get("resourceType", "")
    if res_type in ("Patient", "RelatedPerson", "Practitioner"):
        return person_name(resource) or res_type
    if res_type == "Organization":
        return str(resource.get("name") or res_type)
    for element in _WHAT:
        text = concept_text(resource.get(element))
        if text:
            return text
    return resource.get("description") or res_type


def value(resource: dict[str, Any]) -> str:
    """An Observation's value, a dosage, a status to show beside the what."""
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return f"{quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}".strip()
    for element in ("valueString", "valueCodeableConcept", "valueBoolean", "valueInteger"):
        if element in resource:
            return concept_text(resource[element])
    components = [f"{concept_text(c.get('code'))} {value(c)}" for c in resource.get("component") or ()]
    if components:
        return "; ".join(components)
    dosage = resource.get("dosage") or resource.get("dosageInstruction")
    if isinstance(dosage, dict):
        dosage = [dosage]
    if isinstance(dosage, list) and dosage:
        return "; ".join(str(d.get("text", "")) for d in dosage if d.get("text"))
    return ""


def when(resource: dict[str, Any]) -> str:
    """The date the resource is about (as FHIR writes it), or ""."""
    for element in _WHEN:
        if isinstance(resource.get(element), str):
            return resource[element]
    for element in _PERIODS:
        period = resource.get(element)
        if isinstance(period, dict) and (period.get("start") or period.get("end")):
            return str(period.get("start") or period.get("end"))
    if isinstance(resource.get("birthDate"), str):
        return resource["birthDate"]
    return ""


def status(resource: dict[str, Any]) -> str:
    for element in ("clinicalStatus", "verificationStatus"):
        text = concept_text(resource.get(element))
        if text:
            return text
    return str(resource.get("status", ""))
