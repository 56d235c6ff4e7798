"""The BgZ query set (Nictiz BgZ 2017 as MedMij lists it, in FHIR R4 as zib2020 uses it), per section.

Each query is a search relative to the custodian's FHIR base without a patient parameter: the token is
bound to the person (``patient=BSN``), so the custodian runs it in that person's compartment. The
parameters and includes stay inside what custodians permit (:data:`samen.auth.policy.BGZ_QUERIES`).
Where the 2017 list used STU3 forms, the R4 form is used: plain searches instead of ``Observation/$lastn``,
``ServiceRequest`` for ``ProcedureRequest``, ``Observation:has-member`` for ``related-target``, and the
R4 ActCode system for ``Encounter.class``.
"""

from __future__ import annotations

from dataclasses import dataclass

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MEDICATION_USE_CATEGORY = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"


@dataclass(frozen=True)
class SectionSpec:
    """One section of the BgZ (a zib group) and the searches that fill it."""

    code: str  # stable key
    title_nl: str
    title_en: str
    queries: tuple[str, ...]  # "Type?param=value&..." relative to the custodian's base


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("patient", "Patiënt", "Patient", ("Patient?_include=Patient:general-practitioner",)),
    SectionSpec("payer", "Betaler", "Payer",
                ("Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",)),
    SectionSpec("treatment-directives", "Behandelaanwijzingen", "Treatment directives",
                (f"Consent?category={SCT}|11291000146105",)),
    SectionSpec("advance-directives", "Wilsverklaringen", "Advance directives",
                (f"Consent?category={SCT}|11341000146107",)),
    SectionSpec("contacts", "Contactpersonen", "Contact persons", ("RelatedPerson",)),
    SectionSpec("functional-status", "Functionele of mentale status", "Functional or mental status",
                (f"Observation?category={SCT}|118228005,{SCT}|384821006",)),
    SectionSpec("problems", "Problemen", "Problems", ("Condition",)),
    SectionSpec("living-situation", "Woonsituatie", "Living situation", (f"Observation?code={SCT}|365508006",)),
    SectionSpec("lifestyle", "Drugs-, alcohol- en tabakgebruik", "Drug, alcohol and tobacco use",
                (f"Observation?code={SCT}|228366006", f"Observation?code={SCT}|228273003",
                 f"Observation?code={SCT}|365980008")),
    SectionSpec("nutrition", "Voedingsadvies", "Nutrition advice", ("NutritionOrder",)),
    SectionSpec("alerts", "Alerts", "Alerts", ("Flag",)),
    SectionSpec("allergies", "Allergieën", "Allergies", ("AllergyIntolerance",)),
    SectionSpec("medication", "Medicatie", "Medication", (
        f"MedicationStatement?category={MEDICATION_USE_CATEGORY}&_include=MedicationStatement:medication",
        f"MedicationRequest?category={SCT}|16076005&_include=MedicationRequest:medication",
        f"MedicationDispense?category={SCT}|422037009&_include=MedicationDispense:medication",
    )),
    SectionSpec("medical-aids", "Medische hulpmiddelen", "Medical aids",
                ("DeviceUseStatement?_include=DeviceUseStatement:device",)),
    SectionSpec("vaccinations", "Vaccinaties", "Vaccinations", ("Immunization?status=completed",)),
    SectionSpec("vital-signs", "Vitale functies", "Vital signs", (
        f"Observation?code={LOINC}|85354-9",  # blood pressure
        f"Observation?code={LOINC}|29463-7",  # body weight
        f"Observation?code={LOINC}|8302-2,{LOINC}|8306-3,{LOINC}|8308-9",  # body height
    )),
    SectionSpec("lab-results", "Laboratoriumuitslagen", "Laboratory results", (
        f"Observation?category={SCT}|275711006,http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
        "&_include=Observation:has-member&_include=Observation:specimen",)),
    SectionSpec("procedures", "Verrichtingen", "Procedures", (f"Procedure?category={SCT}|387713003",)),
    SectionSpec("encounters", "Contacten", "Encounters",
                (f"Encounter?class={ACT_CODE}|IMP,{ACT_CODE}|ACUTE,{ACT_CODE}|NONAC",)),
    SectionSpec("planned-care", "Geplande zorg", "Planned care", (
        "ServiceRequest?status=active", "ImmunizationRecommendation",
        "DeviceRequest?status=active&_include=DeviceRequest:device", "Appointment?status=booked,pending,proposed",
    )),
)

# The medication overview (purpose medication-transfer): every agreement, dispense and use, without the BgZ's
# category filters, with the Medication each refers to.
# The Patient is asked too: it names the person's record at the custodian (what the answers must be about).
MEDICATION_SECTION = SectionSpec("medication-overview", "Medicatieoverzicht", "Medication overview", (
    "Patient",
    "MedicationRequest?_include=MedicationRequest:medication",
    "MedicationDispense?_include=MedicationDispense:medication",
    "MedicationStatement?_include=MedicationStatement:medication",
))


def scopes(sections: tuple[SectionSpec, ...]) -> str:
    """SMART v2 system scopes for reading and searching every type the sections search or include."""
    types = {t for section in sections for query in section.queries for t in types_of(query)}
    return " ".join(f"system/{t}.rs" for t in sorted(types))


def types_of(query: str) -> frozenset[str]:
    """The resource types an answer to ``query`` may hold: the searched type and the targets of its includes."""
    res_type, _, params = query.partition("?")
    types = {res_type}
    for param in params.split("&"):
        name, _, value = param.partition("=")
        if name == "_include":
            parts = value.split(":")
            types.update(parts[2:] or _INCLUDE_TARGETS[value])
    return frozenset(types)


_INCLUDE_TARGETS: dict[str, tuple[str, ...]] = {  # the target types of the untyped includes above
    "Patient:general-practitioner": ("Practitioner", "PractitionerRole", "Organization"),
    "MedicationStatement:medication": ("Medication",), "MedicationRequest:medication": ("Medication",),
    "MedicationDispense:medication": ("Medication",), "DeviceUseStatement:device": ("Device",),
    "DeviceRequest:device": ("Device",), "Observation:has-member": ("Observation",),
    "Observation:specimen": ("Specimen",),
}
