"""FHIR building blocks for the generator: code systems, nl-core profile URLs, shared fragments.

Shared fragments (codings, ``meta``) are built once and reused by reference in every resource: the
resources are serialised straight away and never changed, so no copies are needed.
"""

from __future__ import annotations

from typing import Any

from samen.sample import AGB, BIG, BSN, ORGANIZATION_TYPE, SYNTHETIC_TAG, URA, UZI

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"
UZI_ROLE = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"
ADVANCE_DIRECTIVE_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.14.1"
HOUSE_TYPE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.13.1"
ISO_COUNTRY = "urn:iso:std:iso:3166"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
HL7_EXT = "http://hl7.org/fhir/StructureDefinition/"
NICTIZ_EXT = "http://nictiz.nl/fhir/StructureDefinition/"
NL_CORE = "http://nictiz.nl/fhir/StructureDefinition/nl-core-"
# Identifiers samen gives to the records a custodian keeps (medication agreements are cited by dispenses).
LOCAL_IDENTIFIER = "http://samen.nl/fhir/NamingSystem/ura/{ura}/{kind}"

__all__ = ["AGB", "BIG", "BSN", "URA", "UZI"]


def meta(profile: str) -> dict[str, Any]:
    """``meta`` with the nl-core profile and the synthetic tag (build once per profile, share)."""
    return {"profile": [NL_CORE + profile], "tag": [SYNTHETIC_TAG]}


PLAIN_META: dict[str, Any] = {"tag": [SYNTHETIC_TAG]}  # for resource types without an nl-core profile


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        result["text"] = text
    return result


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def ref(res_type: str, res_id: str, display: str | None = None) -> dict[str, str]:
    result = {"reference": f"{res_type}/{res_id}", "type": res_type}
    if display:
        result["display"] = display
    return result


def identifier_ref(res_type: str, system: str, value: str, display: str) -> dict[str, Any]:
    """A reference to a resource another custodian holds, by its business identifier (URA, UZI, ...)."""
    return {"type": res_type, "identifier": {"system": system, "value": value}, "display": display}


COUNTRY_NL: dict[str, Any] = {"extension": [{"url": NICTIZ_EXT + "ext-CodeSpecification", "valueCodeableConcept":
                                             concept(ISO_COUNTRY, "NL", "Nederland")}]}


def address(street: str, number: int, postcode: str, city: str, municipality: str, use: str) -> dict[str, Any]:
    """An nl-core-AddressInformation address: street and house number as ADXP parts, Dutch country code.

    The municipality goes in ``district``; it is left out when unknown (places from a PC4 table).
    """
    line = f"{street} {number}"
    result: dict[str, Any] = {
        "use": use,
        "type": "both",
        "line": [line],
        "_line": [{"extension": [
            {"url": HL7_EXT + "iso21090-ADXP-streetName", "valueString": street},
            {"url": HL7_EXT + "iso21090-ADXP-houseNumber", "valueString": str(number)},
        ]}],
        "city": city,
    }
    if municipality:
        result["district"] = municipality
    return {**result, "postalCode": postcode, "country": "Nederland", "_country": COUNTRY_NL}
