"""Synthetic Dutch sample data for ``samen quickstart``: one transaction Bundle, the same for the same seed.

Small and readable on purpose (the realistic population generator is ``samen synth``). Two
organisations, three practitioners and N patients in nl-core form, each with a few Conditions
(SNOMED CT), Observations (LOINC), an AllergyIntolerance, a MedicationRequest and an Encounter.
Every resource carries :data:`SYNTHETIC_TAG`. BSNs come from the 9999 test range and pass the
elfproef, so they can never be a real person's. Dates are relative to a fixed :data:`REFERENCE_DATE`.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

SYNTHETIC_TAG = {
    "system": "http://samen.nl/fhir/CodeSystem/data-origin",
    "code": "synthetic",
    "display": "Synthetic sample data, not about real people",
}
BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
URA = "http://fhir.nl/fhir/NamingSystem/ura"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
BIG = "http://fhir.nl/fhir/NamingSystem/big"
SNOMED, LOINC, UCUM = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
ORGANIZATION_TYPE = "http://nictiz.nl/fhir/NamingSystem/organization-type"  # RoleCodeNL
_HL7_EXT = "http://hl7.org/fhir/StructureDefinition/"
_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
MAX_PATIENTS = 5000  # the 9999 test range holds about 9,000 valid BSNs
REFERENCE_DATE = date(2025, 1, 1)  # "today" for the sample data: fixed, so a seed always gives the same bundle

_FAMILIES = [("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("", "Bakker"), ("", "Visser"),
             ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"), ("de", "Groot"), ("", "Bos"), ("", "Vos"),
             ("", "Peters"), ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"),
             ("", "Dijkstra"), ("van der", "Meer"), ("van der", "Linden"), ("", "Kok"), ("", "Jacobs"), ("de", "Haan")]
_GIVEN = {"female": ["Anna", "Emma", "Sophie", "Julia", "Maria", "Johanna", "Cornelia", "Sanne", "Fleur", "Ingrid"],
          "male": ["Jan", "Pieter", "Kees", "Hendrik", "Willem", "Daan", "Bram", "Johannes", "Gerrit", "Thijs"]}
_STREETS = ["Dorpsstraat", "Kerkstraat", "Molenweg", "Stationsweg", "Schoolstraat", "Julianalaan", "Beatrixstraat",
            "Wilhelminaweg", "Lindenlaan", "Eikenlaan", "Prinsengracht", "Nieuwe Binnenweg"]
_CITIES = {  # postcode range and telephone area code
    "Amsterdam": (1011, 1109, "020"), "Rotterdam": (3011, 3089, "010"), "Utrecht": (3511, 3585, "030"),
    "Den Haag": (2491, 2599, "070"), "Groningen": (9711, 9747, "050"), "Eindhoven": (5611, 5658, "040"),
    "Zwolle": (8011, 8043, "038"),
}
# SNOMED CT code: (display, Dutch text, treating practitioner, ATC code and name, medicine, dosage)
_CONDITIONS = {
    "44054006": ("Diabetes mellitus type 2", "Diabetes mellitus type 2", "huisarts",
                 ("A10BA02", "metformin"), "Metformine 500 mg tablet", "2 maal daags 1 tablet"),
    "84114007": ("Heart failure", "Hartfalen", "cardioloog",
                 ("C03CA01", "furosemide"), "Furosemide 40 mg tablet", "1 maal daags 1 tablet"),
    "13645005": ("Chronic obstructive lung disease", "COPD", "longarts",
                 ("R03BB04", "tiotropium bromide"), "Tiotropium 18 microgram inhalatiecapsule",
                 "1 maal daags 1 capsule inhaleren"),
    "38341003": ("Hypertensive disorder, systemic arterial", "Hypertensie", "huisarts",
                 ("C09AA03", "lisinopril"), "Lisinopril 10 mg tablet", "1 maal daags 1 tablet"),
}
_ALLERGIES = [("91936005", "Allergy to penicillin", "Penicilline-allergie", "medication"),
              ("91935009", "Allergy to peanut", "Pinda-allergie", "food"),
              ("232350006", "House dust mite allergy", "Huisstofmijtallergie", "environment")]


def sample_bundle(patients: int = 25, seed: int = 1) -> dict[str, Any]:
    """A transaction Bundle of synthetic sample data; equal arguments give an equal Bundle."""
    if not 0 <= patients <= MAX_PATIENTS:
        raise ValueError(f"patients must be between 0 and {MAX_PATIENTS} (for more, use samen synth)")
    return _Generator(random.Random(seed)).bundle(patients)


def elfproef(bsn: str) -> bool:
    """The BSN check: 9 digits, weights 9..2 and -1, the weighted sum divisible by 11 (and not 0)."""
    if len(bsn) != 9 or not (bsn.isascii() and bsn.isdigit()):  # isdigit alone takes other scripts' digits
        return False
    total = sum(int(digit) * weight for digit, weight in zip(bsn, [9, 8, 7, 6, 5, 4, 3, 2, -1]))
    return total % 11 == 0 and total != 0


def _coding(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    return concept | ({"text": text} if text else {})


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.entries: list[dict[str, Any]] = []
        self.bsns: set[str] = set()
        self.practitioners: dict[str, tuple[dict[str, str], dict[str, str]]] = {}

    def add(self, res_type: str, fields: dict[str, Any]) -> dict[str, str]:
        """Add a create entry; returns a reference to it (``urn:uuid:``, rewritten by the transaction)."""
        full_url = f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        resource = {"resourceType": res_type, "meta": {"tag": [dict(SYNTHETIC_TAG)]}, **fields}
        self.entries.append({"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": res_type}})
        return {"reference": full_url}

    def bundle(self, patients: int) -> dict[str, Any]:
        hospital = self.organisation("Ziekenhuis Amstelzicht", "Amsterdam", "06", ("V6", "Algemeen ziekenhuis"))
        practice = self.organisation("Huisartsenpraktijk De Linde", "Utrecht", "01",
                                     ("Z3", "Huisartspraktijk (zelfstandig of groepspraktijk)"))
        self.practitioners = {"huisarts": (self.practitioner("female"), practice),
                              "cardioloog": (self.practitioner("male"), hospital),
                              "longarts": (self.practitioner("female"), hospital)}
        for _ in range(patients):
            self.patient(practice)
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(count))

    def name(self, gender: str) -> dict[str, Any]:
        """An nl-core HumanName: the family name with its prefix ("van der") and own name as extensions."""
        prefix, own = self.rng.choice(_FAMILIES)
        given = self.rng.choice(_GIVEN[gender])
        family = f"{prefix} {own}".strip()
        parts = ([{"url": _HL7_EXT + "humanname-own-prefix", "valueString": prefix}] if prefix else []) + [
            {"url": _HL7_EXT + "humanname-own-name", "valueString": own}]
        return {"use": "official", "text": f"{given} {family}", "family": family, "_family": {"extension": parts},
                "given": [given]}

    def address(self, city: str) -> dict[str, Any]:
        street, number = self.rng.choice(_STREETS), self.rng.randint(1, 250)
        letters = self.rng.choice([a + b for a in string.ascii_uppercase for b in string.ascii_uppercase
                                   if a + b not in ("SA", "SD", "SS")])  # PostNL never issues these
        parts = [{"url": _HL7_EXT + "iso21090-ADXP-streetName", "valueString": street},
                 {"url": _HL7_EXT + "iso21090-ADXP-houseNumber", "valueString": str(number)}]
        return {"use": "home", "line": [f"{street} {number}"], "_line": [{"extension": parts}], "city": city,
                "postalCode": f"{self.rng.randint(*_CITIES[city][:2])} {letters}", "country": "NL"}

    def bsn(self) -> str:
        while True:
            start = "9999" + self.digits(4)  # the range set aside for test BSNs
            check = sum(int(d) * w for d, w in zip(start, range(9, 1, -1))) % 11
            if check < 10 and start + str(check) not in self.bsns:
                self.bsns.add(start + str(check))
                return start + str(check)

    def organisation(self, name: str, city: str, agb_kind: str, kind: tuple[str, str]) -> dict:
        return self.add("Organization", {
            "identifier": [{"system": URA, "value": self.digits(8)},
                           {"system": AGB, "value": agb_kind + self.digits(6)}],  # 06: hospitals, 01: GPs
            "active": True,
            "type": [_coding(ORGANIZATION_TYPE, *kind)],
            "name": name,
            "telecom": [{"system": "phone", "value": f"{_CITIES[city][2]}-{self.digits(7)}", "use": "work"}],
            "address": [self.address(city) | {"use": "work"}],
        })

    def practitioner(self, gender: str) -> dict:
        return self.add("Practitioner", {
            "identifier": [{"system": UZI, "value": self.digits(9)}, {"system": BIG, "value": self.digits(11)}],
            "active": True, "name": [self.name(gender)], "gender": gender,
        })

    def patient(self, practice: dict) -> None:
        rng = self.rng
        gender = rng.choice(["female", "male"])
        born = REFERENCE_DATE - timedelta(days=rng.randint(30 * 365, 90 * 365))
        patient = self.add("Patient", {
            "identifier": [{"system": BSN, "value": self.bsn()}], "active": True, "name": [self.name(gender)],
            "gender": gender, "birthDate": born.isoformat(), "address": [self.address(rng.choice(sorted(_CITIES)))],
            "generalPractitioner": [practice],
        })
        codes = rng.sample(sorted(_CONDITIONS), rng.randint(1, 3))
        for code in codes:
            display, text = _CONDITIONS[code][:2]
            self.add("Condition", {
                "clinicalStatus": _coding(_TERMINOLOGY + "condition-clinical", "active", "Active"),
                "verificationStatus": _coding(_TERMINOLOGY + "condition-ver-status", "confirmed", "Confirmed"),
                "category": [_coding(_TERMINOLOGY + "condition-category", "problem-list-item", "Problem List Item")],
                "code": _coding(SNOMED, code, display, text), "subject": patient,
                "onsetDateTime": (REFERENCE_DATE - timedelta(days=rng.randint(700, 5000))).isoformat(),
            })
        allergy, display, text, category = rng.choice(_ALLERGIES)
        self.add("AllergyIntolerance", {
            "clinicalStatus": _coding(_TERMINOLOGY + "allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": _coding(_TERMINOLOGY + "allergyintolerance-verification", "confirmed", "Confirmed"),
            "category": [category], "code": _coding(SNOMED, allergy, display, text), "patient": patient,
        })
        role, atc, medicine, dosage = _CONDITIONS[codes[0]][2:]
        practitioner, organisation = self.practitioners[role]
        visits = sorted(REFERENCE_DATE - timedelta(days=days) for days in rng.sample(range(1, 720), 3))
        start = datetime.combine(visits[-1], time(rng.randint(8, 15), rng.choice([0, 15, 30, 45])), timezone.utc)
        encounter = self.add("Encounter", {
            "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                            "code": "AMB", "display": "ambulatory"},
            "subject": patient, "participant": [{"individual": practitioner}],
            "period": {"start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat()},
            "serviceProvider": organisation,
        })
        self.add("MedicationRequest", {
            "status": "active", "intent": "order", "medicationCodeableConcept": _coding(ATC, *atc, medicine),
            "subject": patient, "encounter": encounter, "authoredOn": visits[-1].isoformat(),
            "requester": practitioner, "dosageInstruction": [{"text": dosage}],
        })
        self.observations(patient, encounter, visits, codes)

    def observations(self, patient: dict, encounter: dict, visits: list[date], codes: list[str]) -> None:
        rng = self.rng
        vital, lab = (_coding(_TERMINOLOGY + "observation-category", c, d) for c, d in
                      (("vital-signs", "Vital Signs"), ("laboratory", "Laboratory")))
        systolic = 145 if "38341003" in codes else 125
        weight = round(rng.uniform(55, 110), 1)
        for n, day in enumerate(visits):
            common = {"status": "final", "subject": patient, "effectiveDateTime": day.isoformat()}
            if n == len(visits) - 1:
                common["encounter"] = encounter
            self.add("Observation", {**common, "category": [vital],
                "code": _coding(LOINC, "85354-9", "Blood pressure panel with all children optional", "Bloeddruk"),
                "component": [
                    {"code": _coding(LOINC, "8480-6", "Systolic blood pressure"),
                     "valueQuantity": _quantity(systolic + rng.randint(-15, 15), "mm[Hg]")},
                    {"code": _coding(LOINC, "8462-4", "Diastolic blood pressure"),
                     "valueQuantity": _quantity(systolic // 2 + 15 + rng.randint(-8, 8), "mm[Hg]")}]})
            self.add("Observation", {**common, "category": [vital],
                "code": _coding(LOINC, "29463-7", "Body weight", "Lichaamsgewicht"),
                "valueQuantity": _quantity(round(weight + rng.uniform(-2, 2), 1), "kg")})
            if "44054006" in codes:
                self.add("Observation", {**common, "category": [lab],
                    "code": _coding(LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "HbA1c"),
                    "valueQuantity": _quantity(round(rng.uniform(6.0, 8.5), 1), "%")})
