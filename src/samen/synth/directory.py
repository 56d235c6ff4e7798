"""A custodian's own administration: Organization, Location, HealthcareServices, Practitioners, roles.

These are the resources the other records refer to (``Organization/{URA}``, ``PractitionerRole/...``),
in nl-core form (HealthcareProvider, HealthProfessional), with URA, AGB, UZI and BIG identifiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from samen.synth import fhir
from samen.synth.data.clinical import SPECIALTIES
from samen.synth.providers import Professional, Provider

_ORGANIZATION_META = fhir.meta("HealthcareProvider-Organization")
_LOCATION_META = fhir.meta("HealthcareProvider")
_PRACTITIONER_META = fhir.meta("HealthProfessional-Practitioner")
_ROLE_META = fhir.meta("HealthProfessional-PractitionerRole")
_WORK_ADDRESS_TYPE = {"url": fhir.NICTIZ_EXT + "ext-AddressInformation.AddressType", "valueCodeableConcept":
                      fhir.concept(fhir.TERMINOLOGY + "v3-AddressUse", "WP", "Work Place")}


def organization_ref(provider: Provider) -> dict[str, str]:
    return fhir.ref("Organization", provider.ura, provider.name)


def location_ref(provider: Provider) -> dict[str, str]:
    return fhir.ref("Location", f"{provider.ura}-locatie", provider.name)


def role_ref(professional: Professional) -> dict[str, str]:
    return fhir.ref("PractitionerRole", f"{professional.uzi}-rol", display_name(professional))


def organization_identifier_ref(provider: Provider) -> dict[str, Any]:
    """How another custodian refers to this organisation: by its URA."""
    return fhir.identifier_ref("Organization", fhir.URA, provider.ura, provider.name)


def display_name(professional: Professional) -> str:
    return f"{professional.given} {professional.prefix} {professional.surname}".replace("  ", " ")


def work_address(provider: Provider) -> dict[str, Any]:
    address = fhir.address(provider.street, provider.house_number, provider.postcode, provider.place.name,
                           provider.place.municipality, "work")
    return {"extension": [_WORK_ADDRESS_TYPE], **address}


def directory_resources(provider: Provider) -> Iterator[dict[str, Any]]:
    """Every administration resource of one custodian, in a fixed order."""
    kind = provider.kind
    address = work_address(provider)
    yield {
        "resourceType": "Organization", "id": provider.ura, "meta": _ORGANIZATION_META,
        "identifier": [{"system": fhir.URA, "value": provider.ura}, {"system": fhir.AGB, "value": provider.agb}],
        "active": True,
        "type": [fhir.concept(fhir.ORGANIZATION_TYPE, kind.type_code, kind.type_display)],
        "name": provider.name, "address": [address],
    }
    yield {
        "resourceType": "Location", "id": f"{provider.ura}-locatie", "meta": _LOCATION_META,
        "status": "active", "name": provider.name, "mode": "instance",
        "type": [fhir.concept(fhir.ORGANIZATION_TYPE, kind.type_code, kind.type_display)],
        "address": address,
        "position": {"longitude": provider.lon, "latitude": provider.lat},
        "managingOrganization": organization_ref(provider),
    }
    for specialty_key in dict.fromkeys(p.specialty for p in provider.staff):
        specialty = SPECIALTIES[specialty_key]
        service: dict[str, Any] = {
            "resourceType": "HealthcareService", "id": f"{provider.ura}-{specialty_key}", "meta": fhir.PLAIN_META,
            "active": True, "providedBy": organization_ref(provider),
            "type": [{"text": specialty.dutch}], "location": [location_ref(provider)],
            "name": f"{specialty.dutch.capitalize()} - {provider.name}",
        }
        if specialty.agb:
            service["specialty"] = [fhir.concept(fhir.AGB_SPECIALISM, specialty.agb, specialty.agb_display)]
        yield service
    for professional in provider.staff:
        yield practitioner(professional)
        yield practitioner_role(professional, provider)


def practitioner(professional: Professional) -> dict[str, Any]:
    own = f"{professional.prefix} {professional.surname}".strip()
    family_parts = ([{"url": fhir.HL7_EXT + "humanname-own-prefix", "valueString": professional.prefix}]
                    if professional.prefix else [])
    family_parts.append({"url": fhir.HL7_EXT + "humanname-own-name", "valueString": professional.surname})
    return {
        "resourceType": "Practitioner", "id": professional.uzi, "meta": _PRACTITIONER_META,
        "identifier": [{"system": fhir.UZI, "value": professional.uzi}, {"system": fhir.BIG, "value": professional.big},
                       {"system": fhir.AGB, "value": professional.agb}],
        "active": True,
        "name": [{"use": "official", "text": display_name(professional), "family": own,
                  "_family": {"extension": family_parts}, "given": [professional.given],
                  "_given": [{"extension": [{"url": fhir.HL7_EXT + "iso21090-EN-qualifier", "valueCode": "BR"}]}]}],
        "gender": professional.sex,
    }


def practitioner_role(professional: Professional, provider: Provider) -> dict[str, Any]:
    specialty = SPECIALTIES[professional.specialty]
    return {
        "resourceType": "PractitionerRole", "id": f"{professional.uzi}-rol", "meta": _ROLE_META,
        "active": True,
        "practitioner": fhir.ref("Practitioner", professional.uzi, display_name(professional)),
        "organization": organization_ref(provider),
        "location": [location_ref(provider)],
        "specialty": [fhir.concept(fhir.UZI_ROLE, specialty.uzi_role, specialty.role_display)],
        "healthcareService": [fhir.ref("HealthcareService", f"{provider.ura}-{professional.specialty}")],
    }
