"""The forms of the directory management page: which fields each resource type has, and how form values become
an NlGf resource (and back). No HTTP here: the page hands in the submitted values and the owner.

Every resource gets the organisation as owner (``managingOrganization``, ``providedBy`` or ``organization``)
and a custodian-assigned identifier (the IG's ``AssignedId``) issued by the node's URA.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from samen.directory import codes
from samen.sample import URA, UZI

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Option = tuple[str, str, str]  # value, Dutch label, English label


@dataclass(frozen=True)
class Owner:
    """The node's own organisation: its URA, and its Organization resource once that exists."""

    ura: str
    base_url: str
    org_id: str = ""
    name: str = ""

    def reference(self) -> dict[str, Any]:
        ref: dict[str, Any] = {"identifier": {"system": URA, "value": self.ura}}
        if self.org_id:
            ref["reference"] = f"Organization/{self.org_id}"
        if self.name:
            ref["display"] = self.name
        return ref

    def owns(self, resource: dict[str, Any]) -> bool:
        """Whether this organisation is the resource's owner (or, for an Organization, is or contains it)."""
        res_type = resource.get("resourceType")
        if res_type == "Organization":
            mine = any(i.get("system") == URA and i.get("value") == self.ura for i in resource.get("identifier") or ())
            part_of = (resource.get("partOf") or {}).get("reference")
            return mine or bool(self.org_id and part_of == f"Organization/{self.org_id}")
        if res_type == "Practitioner":
            return _assigned_by(resource, self.ura)
        ref = resource.get(OWNER_ELEMENT.get(str(res_type), "")) or {}
        identifier = ref.get("identifier") or {}
        return (identifier.get("system") == URA and identifier.get("value") == self.ura) or (
            bool(self.org_id) and ref.get("reference") == f"Organization/{self.org_id}")


OWNER_ELEMENT = {"Location": "managingOrganization", "HealthcareService": "providedBy",
                 "Endpoint": "managingOrganization", "PractitionerRole": "organization"}


def _assigned_by(resource: dict[str, Any], ura: str) -> bool:
    return any(((i.get("assigner") or {}).get("identifier") or {}).get("value") == ura
               for i in resource.get("identifier") or () if isinstance(i, dict))


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"  # text | number | select | multiselect | time | url
    required: bool = False
    options: Callable[[Mapping[str, list[Option]]], list[Option]] | None = None  # from the page's dynamic lists


def _code_options(concepts: tuple[codes.Concept, ...]) -> Callable[[Mapping[str, list[Option]]], list[Option]]:
    options = [(c.code, f"{c.display_nl} ({c.code})", f"{c.display_en} ({c.code})") for c in concepts]
    return lambda _dynamic: options


def _fixed(values: tuple[str, ...]) -> Callable[[Mapping[str, list[Option]]], list[Option]]:
    return lambda _dynamic: [(value, value, value) for value in values]


def _dynamic(key: str) -> Callable[[Mapping[str, list[Option]]], list[Option]]:
    return lambda dynamic: dynamic.get(key, [])


@dataclass(frozen=True)
class Kind:
    """One resource type on the page: its URL slug, its fields and its conversions."""

    slug: str
    res_type: str
    fields: tuple[Field, ...]
    build: Callable[[Mapping[str, list[str]], Owner], dict[str, Any]]
    values: Callable[[dict[str, Any]], dict[str, list[str]]]


class FormError(ValueError):
    """A value the form cannot use; ``key`` names the Dutch/English text, ``field`` the form field."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key


def _one(form: Mapping[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


def _coding(system: str, code: str, lang: str = "nl") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    display = codes.display(system, code, lang)
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str) -> list[dict[str, Any]]:
    return [{"coding": [_coding(system, code)]}] if code else []


def first_code(value: Any, system: str) -> str:
    for concept in value if isinstance(value, list) else [value]:
        for coding in (concept or {}).get("coding") or ():
            if coding.get("system") == system:
                return str(coding.get("code", ""))
    return ""


def _codes(value: Any, system: str) -> list[str]:
    return [str(c.get("code")) for concept in value or () for c in (concept or {}).get("coding") or ()
            if c.get("system") == system]


def _phone(form: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    phone = _one(form, "phone")
    return [{"system": "phone", "value": phone, "use": "work"}] if phone else []


def _phone_value(resource: dict[str, Any]) -> list[str]:
    return [t.get("value", "") for t in resource.get("telecom") or () if t.get("system") == "phone"][:1]


def _ref_id(ref: Any) -> list[str]:
    reference = (ref or {}).get("reference", "")
    return [reference.split("/", 1)[1]] if "/" in reference else []


def _assigned(res_type: str, owner: Owner) -> dict[str, Any]:
    return codes.custodian_identifier(f"{owner.base_url.rstrip('/')}/{res_type}", str(uuid.uuid4()), owner.ura)


# --- Organization ---------------------------------------------------------------------------------------------

def _organization(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    type_code = _one(form, "org_type")
    coding = [_coding(codes.ORGANISATION_TYPE, type_code)] if type_code else []
    coding += [_coding(codes.SBI, sbi) for sbi in codes.sbi_for_organisation_type(type_code)[:1]]
    resource: dict[str, Any] = {"resourceType": "Organization", "active": True, "name": _one(form, "name"),
                                "identifier": [_assigned("Organization", owner)],
                                "type": [{"coding": coding}] if coding else []}
    if owner.org_id:  # the organisation exists: this is a department of it
        resource["partOf"] = owner.reference()
    else:
        resource["identifier"].insert(0, {"system": URA, "value": owner.ura})
    resource["telecom"] = _phone(form)
    return resource


def _organization_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    return {"name": [resource.get("name", "")], "org_type": [first_code(resource.get("type"), codes.ORGANISATION_TYPE)],
            "phone": _phone_value(resource)}


# --- Location -------------------------------------------------------------------------------------------------

def _number(form: Mapping[str, list[str]], name: str, low: float, high: float) -> float | None:
    text = _one(form, name).replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FormError(name, "not_a_number") from None
    if not low <= value <= high:
        raise FormError(name, "out_of_range")
    return value


def _location(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Location", "identifier": [_assigned("Location", owner)],
                                "name": _one(form, "name"), "status": _one(form, "status"),
                                "type": _concept(codes.LOCATION_TYPE, _one(form, "location_type")),
                                "managingOrganization": owner.reference(), "telecom": _phone(form)}
    address = {"line": [_one(form, "street")] if _one(form, "street") else [], "postalCode": _one(form, "postal_code"),
               "city": _one(form, "city"), "country": "NL"}
    if address["line"] or address["postalCode"] or address["city"]:
        resource["address"] = address
    latitude, longitude = _number(form, "latitude", -90, 90), _number(form, "longitude", -180, 180)
    if (latitude is None) != (longitude is None):
        raise FormError("longitude" if longitude is None else "latitude", "position_incomplete")
    if latitude is not None:
        resource["position"] = {"latitude": latitude, "longitude": longitude}
    return resource


def _location_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    address = resource.get("address") or {}
    position = resource.get("position") or {}
    return {"name": [resource.get("name", "")], "status": [resource.get("status", "")],
            "location_type": [first_code(resource.get("type"), codes.LOCATION_TYPE)],
            "street": (address.get("line") or [""])[:1], "postal_code": [address.get("postalCode", "")],
            "city": [address.get("city", "")], "latitude": [str(position.get("latitude", ""))],
            "longitude": [str(position.get("longitude", ""))], "phone": _phone_value(resource)}


# --- HealthcareService ------------------------------------------------------------------------------------------

def _healthcare_service(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "HealthcareService", "active": True,
                                "identifier": [_assigned("HealthcareService", owner)], "name": _one(form, "name"),
                                "providedBy": owner.reference(),
                                "type": _concept(codes.SERVICE_TYPE, _one(form, "service_type")),
                                "specialty": _concept(codes.UZI_ROLE, _one(form, "specialty")),
                                "telecom": _phone(form)}
    location = _one(form, "location")
    if location:
        resource["location"] = [{"reference": f"Location/{location}"}]
    days = [day for day in form.get("days") or () if day in WEEKDAYS]
    start, end = _one(form, "opens"), _one(form, "closes")
    if days:
        available: dict[str, Any] = {"daysOfWeek": days}
        if start and end:
            if start >= end:
                raise FormError("closes", "closes_before_opens")
            available.update(availableStartTime=f"{start}:00"[:8], availableEndTime=f"{end}:00"[:8])
        else:
            available["allDay"] = True
        resource["availableTime"] = [available]
    return resource


def _healthcare_service_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    available = (resource.get("availableTime") or [{}])[0]
    return {"name": [resource.get("name", "")],
            "service_type": [first_code(resource.get("type"), codes.SERVICE_TYPE)],
            "specialty": [first_code(resource.get("specialty"), codes.UZI_ROLE)],
            "location": _ref_id((resource.get("location") or [{}])[0]), "phone": _phone_value(resource),
            "days": list(available.get("daysOfWeek") or ()),
            "opens": [str(available.get("availableStartTime", ""))[:5]],
            "closes": [str(available.get("availableEndTime", ""))[:5]]}


# --- Endpoint ---------------------------------------------------------------------------------------------------

def _endpoint(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    address = _one(form, "address")
    if address and not address.startswith(("https://", "http://")):
        raise FormError("address", "not_a_url")
    payload = [code for code in form.get("payload_types") or () if code]
    return {"resourceType": "Endpoint", "status": _one(form, "status"), "name": _one(form, "name"),
            "identifier": [_assigned("Endpoint", owner)],
            "connectionType": _coding(codes.CONNECTION_TYPE, _one(form, "connection_type"))
            if _one(form, "connection_type") else None,
            "payloadType": [{"coding": [_coding(codes.PAYLOAD_TYPE, code)]} for code in payload],
            "payloadMimeType": ["application/fhir+json"], "address": address,
            "managingOrganization": owner.reference()}


def _endpoint_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    return {"name": [resource.get("name", "")], "status": [resource.get("status", "")],
            "connection_type": [str((resource.get("connectionType") or {}).get("code", ""))],
            "payload_types": _codes(resource.get("payloadType"), codes.PAYLOAD_TYPE),
            "address": [resource.get("address", "")]}


# --- Practitioner and PractitionerRole --------------------------------------------------------------------------

def _practitioner(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    family, given = _one(form, "family"), _one(form, "given")
    identifiers = [_assigned("Practitioner", owner)]
    uzi = _one(form, "uzi")
    if uzi:
        if not uzi.isdigit():
            raise FormError("uzi", "not_a_number")
        identifiers.append({"system": UZI, "value": uzi})
    name = {"use": "official", "family": family, "given": [given] if given else [],
            "text": " ".join(part for part in (given, family) if part)}
    return {"resourceType": "Practitioner", "active": True, "identifier": identifiers,
            "name": [name] if family else []}


def _practitioner_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    name = (resource.get("name") or [{}])[0]
    uzi = [i.get("value", "") for i in resource.get("identifier") or () if i.get("system") == UZI][:1]
    return {"family": [name.get("family", "")], "given": (name.get("given") or [""])[:1], "uzi": uzi}


def _practitioner_role(form: Mapping[str, list[str]], owner: Owner) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "PractitionerRole", "active": True,
                                "identifier": [_assigned("PractitionerRole", owner)],
                                "organization": owner.reference(),
                                "code": _concept(codes.UZI_ROLE, _one(form, "role")),
                                "specialty": _concept(codes.UZI_ROLE, _one(form, "specialty")),
                                "telecom": _phone(form)}
    practitioner, location = _one(form, "practitioner"), _one(form, "location")
    if practitioner:
        resource["practitioner"] = {"reference": f"Practitioner/{practitioner}"}
    if location:
        resource["location"] = [{"reference": f"Location/{location}"}]
    return resource


def _practitioner_role_values(resource: dict[str, Any]) -> dict[str, list[str]]:
    return {"practitioner": _ref_id(resource.get("practitioner")),
            "role": [first_code(resource.get("code"), codes.UZI_ROLE)],
            "specialty": [first_code(resource.get("specialty"), codes.UZI_ROLE)],
            "location": _ref_id((resource.get("location") or [{}])[0]), "phone": _phone_value(resource)}


KINDS: dict[str, Kind] = {kind.slug: kind for kind in (
    Kind("organisatie", "Organization", (
        Field("name", required=True), Field("org_type", "select", True, _code_options(codes.organisation_types())),
        Field("phone")), _organization, _organization_values),
    Kind("locatie", "Location", (
        Field("name", required=True), Field("status", "select", True, _fixed(codes.LOCATION_STATUSES)),
        Field("location_type", "select", True, _code_options(codes.location_types())),
        Field("street"), Field("postal_code"), Field("city"), Field("latitude", "number"),
        Field("longitude", "number"), Field("phone")), _location, _location_values),
    Kind("zorgdienst", "HealthcareService", (
        Field("name", required=True), Field("service_type", "select", True, _code_options(codes.service_types())),
        Field("specialty", "select", False, _code_options(codes.specialties())),
        Field("location", "select", False, _dynamic("Location")), Field("phone"),
        Field("days", "multiselect", False, lambda _d: [(d, d, d) for d in WEEKDAYS]),
        Field("opens", "time"), Field("closes", "time")), _healthcare_service, _healthcare_service_values),
    Kind("endpoint", "Endpoint", (
        Field("name"), Field("status", "select", True, _fixed(codes.ENDPOINT_STATUSES)),
        Field("connection_type", "select", True, _code_options(codes.connection_types())),
        Field("payload_types", "multiselect", True, _code_options(codes.payload_types())),
        Field("address", "url", True)), _endpoint, _endpoint_values),
    Kind("zorgverlener", "Practitioner", (
        Field("given"), Field("family", required=True), Field("uzi")), _practitioner, _practitioner_values),
    Kind("rol", "PractitionerRole", (
        Field("practitioner", "select", True, _dynamic("Practitioner")),
        Field("role", "select", True, _code_options(codes.practitioner_roles())),
        Field("specialty", "select", False, _code_options(codes.specialties())),
        Field("location", "select", False, _dynamic("Location")), Field("phone")),
        _practitioner_role, _practitioner_role_values),
)}
BY_TYPE = {kind.res_type: kind for kind in KINDS.values()}


def missing(kind: Kind, form: Mapping[str, list[str]]) -> list[str]:
    """The required fields left empty."""
    return [f.name for f in kind.fields if f.required and not any(v.strip() for v in form.get(f.name) or ())]


def not_offered(kind: Kind, form: Mapping[str, list[str]], dynamic: Mapping[str, list[Option]]) -> list[str]:
    """The choice fields with a value the form did not offer (such as the id of another organisation's Location)."""
    return [f.name for f in kind.fields if f.options
            and any(v and v not in {o[0] for o in f.options(dynamic)} for v in form.get(f.name) or ())]


def keep_identity(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """An edit keeps the resource's id and identifiers (the custodian-assigned identifier is persistent)."""
    new["id"] = old["id"]
    if old.get("identifier"):
        extra = [i for i in new.get("identifier") or () if i.get("system") == UZI]
        new["identifier"] = [i for i in old["identifier"] if i.get("system") != UZI] + extra
    if old.get("partOf"):
        new["partOf"] = old["partOf"]
    elif new.get("resourceType") == "Organization":
        new.pop("partOf", None)
    return new
