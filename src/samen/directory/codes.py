"""The code systems and profile rules of the administration directory (IHE mCSD as the NL Generic Functions IG
profiles it: NlGfOrganization, NlGfLocation, NlGfHealthcareService, NlGfEndpoint, NlGfPractitionerRole,
NlGfPractitioner).

The code lists are data (``data/directory_codes.json``, each list naming its source and commit); the payload
types are the IG's data categories (:mod:`samen.directory.categories`). The IG package cannot be loaded
offline, so :func:`check` is a hand-kept list of the profiles' rules that matter for a directory entry,
taken from the IG's ``input/fsh/structuredefinitions.fsh`` (see :data:`PROFILES_SOURCE`): required elements,
the "at least one coding from the value set" invariants, the custodian-assigned identifier and
``ura-identifier-or-partof``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import orjson

from samen.directory import categories
from samen.sample import ORGANIZATION_TYPE, URA

IG_CANONICAL = "http://minvws.github.io/generiekefuncties-docs"
KVK = "http://fhir.nl/fhir/NamingSystem/kvk"
URA_OID = "urn:oid:2.16.528.1.1007.3.3"  # the URA as the IG's older invariants name it
ORGANISATION_TYPE = ORGANIZATION_TYPE  # RoleCodeNL zorgaanbiedertype
ORGANISATION_TYPE_OID = "urn:oid:2.16.840.1.113883.2.4.15.1060"  # the same code system by its OID
HL7_ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SBI = f"{IG_CANONICAL}/CodeSystem/nl-gf-sbi-2025-cs"
UZI_ROLE = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"  # Vektis COD016-VEKT, as nl-core names it
AGB_SPECIALISM_VEKTIS = "http://ei.vektis.nl/codelijsten/COD016-VEKT"  # the same, as the IG's value set names it
PRACTICE_CODES = "http://snomed.info/sct"  # c80-practice-codes are SNOMED CT concepts
CONNECTION_TYPE = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
AUTHORIZATION_SERVER = f"{IG_CANONICAL}/CodeSystem/nl-gf-authorization-server-cs"
KOPPELTAAL_CONNECTION = "http://vzvz.nl/fhir/CodeSystem/koppeltaal-endpoint-connection-type"
PAYLOAD_TYPE = categories.SYSTEM  # the IG's data categories
HL7_PAYLOAD_TYPE = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
LOCATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SERVICE_TYPE = f"{IG_CANONICAL}/CodeSystem/nl-gf-zorgvragen-cs"
HL7_SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
PROVENANCE_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

DIRECTORY_TYPES = ("Organization", "Location", "HealthcareService", "Endpoint", "PractitionerRole", "Practitioner")
_PROFILE_IDS = {"Organization": "nl-gf-organization", "Location": "nl-gf-location",
                "HealthcareService": "nl-gf-healthcareservice", "Endpoint": "nl-gf-endpoint",
                "PractitionerRole": "nl-gf-practitionerrole", "Practitioner": "nl-gf-practitioner"}
LOCATION_STATUSES = ("active", "suspended", "inactive")
ENDPOINT_STATUSES = ("active", "suspended", "error", "off", "entered-in-error", "test")


class Concept(NamedTuple):
    code: str
    display_nl: str
    display_en: str


@dataclass(frozen=True)
class CodeList:
    """One code system (or the part of it the directory offers), with where it was taken from."""

    key: str
    system: str
    title: str
    source: str
    concepts: tuple[Concept, ...]

    def display(self, code: str, lang: str = "nl") -> str | None:
        for concept in self.concepts:
            if concept.code == code:
                return concept.display_en if lang == "en" else concept.display_nl
        return None


@cache
def _data() -> dict[str, Any]:
    return orjson.loads(resources.files("samen.directory").joinpath("data/directory_codes.json").read_bytes())


@cache
def code_lists() -> dict[str, CodeList]:
    """Every list by its system URL, the data categories (payload types) included."""
    lists = [CodeList(item["key"], item["system"], item["title"], item["source"],
                      tuple(Concept(c["code"], c["display_nl"], c["display_en"]) for c in item["concepts"]))
             for item in _data()["lists"]]
    lists.append(CodeList("payload_type", PAYLOAD_TYPE, "NL GF data categories", "samen.directory.categories",
                          tuple(Concept(c.code, c.display_nl, c.display_en) for c in categories.categories())))
    return {code_list.system: code_list for code_list in lists}


PROFILES_SOURCE: str = _data()["profiles_source"]


def concepts(system: str) -> tuple[Concept, ...]:
    """The concepts this module holds for ``system`` (empty for a system it has no list of)."""
    code_list = code_lists().get(system)
    return code_list.concepts if code_list else ()


def display(system: str, code: str, lang: str = "nl") -> str | None:
    code_list = code_lists().get(system)
    return code_list.display(code, lang) if code_list else None


def organisation_types() -> tuple[Concept, ...]:
    """RoleCodeNL zorgaanbiedertypes (the codes the node's policy decides on: V4, Z3, J8, ...)."""
    return concepts(ORGANISATION_TYPE)


@cache
def sbi_for_organisation_type(code: str) -> tuple[str, ...]:
    """The SBI codes of a RoleCodeNL organisation type, by the IG's ConceptMap sbi-to-organisatietype."""
    for item in _data()["lists"]:
        if item["system"] == ORGANISATION_TYPE:
            for concept in item["concepts"]:
                if concept["code"] == code:
                    return tuple(concept["sbi"])
    return ()


def payload_types() -> tuple[Concept, ...]:
    """Endpoint payload types: the IG's data categories."""
    return concepts(PAYLOAD_TYPE)


def connection_types() -> tuple[Concept, ...]:
    return concepts(CONNECTION_TYPE)


def specialties() -> tuple[Concept, ...]:
    """Specialties of HealthcareService and PractitionerRole: RoleCodeNL UZI role codes (SpecialismeUZICodelijst)."""
    return concepts(UZI_ROLE)


def practitioner_roles() -> tuple[Concept, ...]:
    """PractitionerRole.code: RoleCodeNL UZI role codes (ZorgverlenerRolCodelijst)."""
    return concepts(UZI_ROLE)


def location_types() -> tuple[Concept, ...]:
    return concepts(LOCATION_TYPE)


def service_types() -> tuple[Concept, ...]:
    return concepts(SERVICE_TYPE)


def profile_url(res_type: str) -> str:
    """The IG's profile canonical for a directory resource type (KeyError for another type)."""
    return f"{IG_CANONICAL}/StructureDefinition/{_PROFILE_IDS[res_type]}"


# --- value sets: system -> the codes this module knows (None: every code of that system is accepted) ----------

def _known(system: str) -> frozenset[str] | None:
    return frozenset(concept.code for concept in concepts(system)) or None


_VALUE_SETS: dict[str, tuple[str, ...]] = {  # the IG's value set -> its systems
    "nl-gf-org-types-vs": (HL7_ORGANIZATION_TYPE, SBI, ORGANISATION_TYPE, ORGANISATION_TYPE_OID),
    "nl-gf-location-type-vs": (LOCATION_TYPE, SBI),
    "nl-gf-service-types-vs": (HL7_SERVICE_TYPE, SERVICE_TYPE),
    "nl-gf-healthcare-specialty-vs": (UZI_ROLE, AGB_SPECIALISM, AGB_SPECIALISM_VEKTIS, PRACTICE_CODES),
    "nl-gf-connection-types-vs": (CONNECTION_TYPE, AUTHORIZATION_SERVER, KOPPELTAAL_CONNECTION),
    "nl-gf-payload-type-vs": (HL7_PAYLOAD_TYPE, PAYLOAD_TYPE),
    "uzi-rolcode": (UZI_ROLE,),
}
_OPEN_SYSTEMS = frozenset({HL7_ORGANIZATION_TYPE, HL7_SERVICE_TYPE, LOCATION_TYPE, AGB_SPECIALISM,
                           AGB_SPECIALISM_VEKTIS, PRACTICE_CODES, ORGANISATION_TYPE_OID})  # lists held in part only


def in_value_set(value_set: str, coding: Any) -> bool:
    """Whether a Coding is in one of the IG's value sets (by system, and by code where the list is complete)."""
    if not isinstance(coding, dict):
        return False
    system, code = coding.get("system"), coding.get("code")
    if system not in _VALUE_SETS[value_set] or not isinstance(code, str) or not code:
        return False
    if system == ORGANISATION_TYPE_OID:
        system = ORGANISATION_TYPE
    known = None if system in _OPEN_SYSTEMS else _known(system)
    return known is None or code in known


# --- the profiles' rules ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One broken rule: where, in English and Dutch."""

    path: str
    en: str
    nl: str

    def text(self, lang: str = "en") -> str:
        return f"{self.path}: {self.nl if lang == 'nl' else self.en}"


def _codings(value: Any) -> Iterable[Any]:
    """The Codings of CodeableConcepts, or the value itself where the element is a Coding (connectionType)."""
    for concept in value if isinstance(value, list) else [value]:
        if isinstance(concept, dict):
            yield from concept.get("coding") or ([concept] if "code" in concept else ())


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _require(resource: dict[str, Any], element: str, nl_name: str) -> list[Problem]:
    if _present(resource.get(element)):
        return []
    return [Problem(element, f"{element} is required", f"{nl_name} is verplicht")]


def _binding(resource: dict[str, Any], element: str, value_set: str, nl_name: str) -> list[Problem]:
    """The IG's invariant "at least one coding SHALL be from the value set", for each CodeableConcept given."""
    value = resource.get(element)
    if not _present(value):
        return []
    concepts_ = value if isinstance(value, list) else [value]
    for index, concept in enumerate(concepts_):
        if not any(in_value_set(value_set, coding) for coding in _codings(concept)):
            path = f"{element}[{index}]" if isinstance(value, list) else element
            return [Problem(path, f"needs a coding from {value_set}",
                            f"{nl_name} heeft geen code uit de waardelijst {value_set}")]
    return []


def _identifier_systems(resource: dict[str, Any]) -> set[str]:
    return {i.get("system") for i in resource.get("identifier") or () if isinstance(i, dict) and i.get("value")}


def _assigned_id(resource: dict[str, Any]) -> list[Problem]:
    """CustodianAssignedIdentifier (1..1): official, system, value, assigner identified by URA or KVK, custodian."""
    for identifier in resource.get("identifier") or ():
        if not isinstance(identifier, dict):
            continue
        assigner = (identifier.get("assigner") or {}).get("identifier") or {}
        type_codings = list(_codings(assigner.get("type")))
        if (identifier.get("use") == "official" and identifier.get("system") and identifier.get("value")
                and assigner.get("system") in (URA, KVK, URA_OID) and assigner.get("value")
                and any(c.get("system") == PROVENANCE_PARTICIPANT_TYPE and c.get("code") == "custodian"
                        for c in type_codings if isinstance(c, dict))):
            return []
    return [Problem("identifier", "needs a custodian-assigned identifier (official, assigner URA or KVK, custodian)",
                    "mist een door de bronhouder toegekende identificatie (official, toegekend door URA of KVK)")]


def _organization(resource: dict[str, Any]) -> list[Problem]:
    problems = _require(resource, "name", "Naam") + _require(resource, "type", "Type organisatie")
    problems += _binding(resource, "type", "nl-gf-org-types-vs", "Type organisatie")
    systems = _identifier_systems(resource)
    if not systems & {URA, URA_OID, KVK} and not _present(resource.get("partOf")):
        problems.append(Problem("identifier", "needs a URA or KVK identifier, or partOf (ura-identifier-or-partof)",
                                "heeft een URA- of KVK-nummer nodig, of moet onderdeel zijn van een organisatie"))
    if _present(resource.get("endpoint")) and not systems & {URA, URA_OID}:
        problems.append(Problem("endpoint", "only an organisation with a URA identifier may refer to an endpoint",
                                "alleen een organisatie met een URA-nummer mag naar een endpoint verwijzen"))
    return problems


def _location(resource: dict[str, Any]) -> list[Problem]:
    problems = (_require(resource, "name", "Naam") + _require(resource, "type", "Type locatie")
                + _require(resource, "status", "Status") + _require(resource, "managingOrganization", "Beheerder"))
    return problems + _binding(resource, "type", "nl-gf-location-type-vs", "Type locatie")


def _healthcare_service(resource: dict[str, Any]) -> list[Problem]:
    problems = (_require(resource, "name", "Naam") + _require(resource, "type", "Type dienst")
                + _require(resource, "providedBy", "Aanbieder"))
    problems += _binding(resource, "type", "nl-gf-service-types-vs", "Type dienst")
    return problems + _binding(resource, "specialty", "nl-gf-healthcare-specialty-vs", "Specialisme")


def _endpoint(resource: dict[str, Any]) -> list[Problem]:
    problems = (_require(resource, "status", "Status") + _require(resource, "connectionType", "Verbindingstype")
                + _require(resource, "payloadType", "Soort gegevens") + _require(resource, "address", "Adres")
                + _require(resource, "managingOrganization", "Beheerder"))
    problems += _binding(resource, "connectionType", "nl-gf-connection-types-vs", "Verbindingstype")
    return problems + _binding(resource, "payloadType", "nl-gf-payload-type-vs", "Soort gegevens")


def _practitioner_role(resource: dict[str, Any]) -> list[Problem]:
    problems = (_require(resource, "practitioner", "Zorgverlener") + _require(resource, "organization", "Organisatie")
                + _require(resource, "code", "Rol"))
    return problems + _binding(resource, "specialty", "nl-gf-healthcare-specialty-vs", "Specialisme")


def _practitioner(resource: dict[str, Any]) -> list[Problem]:
    return _require(resource, "name", "Naam")


_RULES: dict[str, tuple[bool, Callable[[dict[str, Any]], list[Problem]]]] = {  # type -> (AssignedId 1..1, rules)
    "Organization": (True, _organization),
    "Location": (True, _location),
    "HealthcareService": (True, _healthcare_service),
    "Endpoint": (False, _endpoint),
    "PractitionerRole": (True, _practitioner_role),
    "Practitioner": (True, _practitioner),
}


def problems(resource: dict[str, Any]) -> list[Problem]:
    """The NlGf profile rules a directory resource breaks (none for a resource type outside the directory)."""
    rules = _RULES.get(resource.get("resourceType"))  # type: ignore[arg-type]
    if rules is None:
        return []
    needs_assigned_id, check_type = rules
    found: list[Problem] = []
    for element in ("implicitRules", "modifierExtension"):  # 0..0 for compliance with IHE mCSD
        if _present(resource.get(element)):
            found.append(Problem(element, f"{element} is not allowed", f"{element} is niet toegestaan"))
    if needs_assigned_id:
        found += _assigned_id(resource)
    return found + check_type(resource)


def check(resource: dict[str, Any], lang: str = "en") -> list[str]:
    """The broken rules as ``path: message`` lines (``lang`` "nl" for Dutch)."""
    return [problem.text(lang) for problem in problems(resource)]


def custodian_identifier(system: str, value: str, ura: str) -> dict[str, Any]:
    """A CustodianAssignedIdentifier: ``value`` in ``system``, assigned by the organisation with this URA."""
    return {"use": "official", "system": system, "value": value,
            "assigner": {"identifier": {
                "type": {"coding": [{"system": PROVENANCE_PARTICIPANT_TYPE, "code": "custodian"}]},
                "system": URA, "value": ura}}}
