"""One person's records at each custodian, as nl-core FHIR resources.

Each custodian holds only what it would really hold, under its own Patient resource (same BSN):

- GP practice: problems, GP encounters, blood pressure, weight, height, lab results, its own
  medication agreements, vaccinations, alerts;
- pharmacy: dispenses, medication use, allergies and intolerances;
- hospital: problems it treats, encounters (outpatient and admissions), procedures, specialist
  medication agreements, its lab results and the home measurements of telemonitoring;
- nursing home and home care: living situation, functional and mental status, advance directives,
  alerts, care encounters; mental-health organisation: its problem, encounters and agreements.

References inside a custodian are literal (``Patient/123``); links to another custodian are by
business identifier: the GP practice by URA, a medication agreement by its identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from samen.synth import fhir
from samen.synth.care import (
    AMSTERDAM,
    PROCEDURE_LENGTH,
    RECORD_DAYS,
    CareProfile,
    Diagnosis,
    Episode,
    Prescription,
    working_day,
)
from samen.synth.data.clinical import LAB_TESTS, SNOMED_DIAGNOSIS
from samen.synth.data.population import ADULT_AGE
from samen.synth.directory import location_ref, organization_identifier_ref, organization_ref, role_ref
from samen.synth.labs import blood_draw
from samen.synth.people import REFERENCE_DATE, Person
from samen.synth.providers import Provider, ProviderNetwork
from samen.synth.randomness import ENROLMENT, RECORDS, Weighted, derived_random

Resource = dict[str, Any]
_META = {name: fhir.meta(name) for name in (
    "Patient", "Problem", "AllergyIntolerance", "LaboratoryTestResult", "BloodPressure", "BodyWeight", "BodyHeight",
    "Vaccination-event", "Encounter", "Procedure-event", "AdvanceDirective", "LivingSituation",
    "LivingSituation.HouseType", "FunctionalOrMentalStatus", "Alert")}
_HL7 = fhir.TERMINOLOGY
_CLINICAL_ACTIVE = fhir.concept(_HL7 + "condition-clinical", "active", "Active")
_CONFIRMED = {"coding": [fhir.coding(_HL7 + "condition-ver-status", "confirmed", "Confirmed"),
                         fhir.coding(fhir.SNOMED, "410605003", "Aanwezigheid bevestigd")]}
_DIAGNOSIS = fhir.concept(fhir.SNOMED, *SNOMED_DIAGNOSIS)
_PROBLEM_LIST = fhir.concept(_HL7 + "condition-category", "problem-list-item", "Problem List Item")
_VITAL_SIGNS = fhir.concept(_HL7 + "observation-category", "vital-signs", "Vital Signs")
_LABORATORY = fhir.concept(_HL7 + "observation-category", "laboratory", "Laboratory")
_ABOVE_RANGE = {"coding": [fhir.coding(fhir.SNOMED, "281302008", "Boven referentiebereik"),
                           fhir.coding(_HL7 + "v3-ObservationInterpretation", "H", "High")]}
_BELOW_RANGE = {"coding": [fhir.coding(fhir.SNOMED, "281300000", "Onder referentiebereik"),
                           fhir.coding(_HL7 + "v3-ObservationInterpretation", "L", "Low")]}
_BP_CODE = fhir.concept(fhir.LOINC, "85354-9", "Blood pressure panel with all children optional", "Bloeddruk")
_SYSTOLIC = fhir.concept(fhir.LOINC, "8480-6", "Systolic blood pressure")
_DIASTOLIC = fhir.concept(fhir.LOINC, "8462-4", "Diastolic blood pressure")
_WEIGHT_CODE = fhir.concept(fhir.LOINC, "29463-7", "Body weight", "Lichaamsgewicht")
_HEIGHT_CODE = fhir.concept(fhir.LOINC, "8302-2", "Body height", "Lichaamslengte")
_ENCOUNTER_CLASS = {key: fhir.coding(_HL7 + "v3-ActCode", key, display) for key, display in (
    ("AMB", "ambulatory"), ("IMP", "inpatient encounter"), ("HH", "home health"))}
_HOME = fhir.concept(fhir.SNOMED, "264362003", "Thuis")
_NURSING_HOME = fhir.concept(fhir.SNOMED, "42665001", "Verpleeghuis")
_ADMINISTRATOR = fhir.concept(_HL7 + "v2-0443", "AP", "Administering Provider")
_VACCINES = {"influenza": fhir.concept(fhir.ATC, "J07BB02", "influenza, inactivated, split virus or surface antigen",
                                      "Influenzavaccin"),
             "pneumococcal": fhir.concept(fhir.ATC, "J07AL01", "pneumococcus, purified polysaccharides antigen",
                                          "Pneumokokkenvaccin (PPV23)")}
_ALLERGY_CLINICAL = fhir.concept(_HL7 + "allergyintolerance-clinical", "active", "Active")
_ALLERGY_CONFIRMED = fhir.concept(_HL7 + "allergyintolerance-verification", "confirmed", "Confirmed")
_ALLERGY_CATEGORY = {"419511003": "medication", "418471000": "food", "426232007": "environment"}
_ALLERGY_CATEGORY_DISPLAY = {"419511003": "Neiging tot ongewenste reactie op medicatie en/of drug",
                             "418471000": "Neiging tot ongewenste reactie op voedsel",
                             "426232007": "Omgevingsgerelateerde allergie"}
_LIVING_CODE = fhir.concept(fhir.SNOMED, "365508006", "Residence and accommodation circumstances - finding")
_HOUSE_TYPE_CODE = fhir.concept(fhir.SNOMED, "272497004", "Residential environment")
_HOUSE_TYPES = {"WLZIN": "Instelling WLZ", "EENGEZW": "Eengezinswoning", "FLATW": "Appartement of flatwoning",
                "BENEDENW": "Benedenwoning", "AANLW": "Aanleunwoning"}
_FUNCTIONAL = fhir.concept(fhir.SNOMED, "118228005", "Functional finding")
_MENTAL = fhir.concept(fhir.SNOMED, "384821006", "Mental state finding")
_WALKING = fhir.concept("http://hl7.org/fhir/sid/icf-nl", "d450", "Lopen")
_MEMORY = fhir.concept(fhir.SNOMED, "386807006", "Memory impairment", "Geheugenstoornis")
_MOBILITY_LEVELS = (("371153006", "Independent", "Zelfstandig"), ("371152001", "Assisted", "Met hulp"),
                    ("371154000", "Dependent", "Afhankelijk"))
_SEVERITY = (("255604002", "Mild", "Licht"), ("6736007", "Moderate", "Matig"), ("24484000", "Severe", "Ernstig"))
_DIRECTIVES = Weighted((("NR", "Niet reanimeren verklaring"), ("VERB", "Behandelverbod"),
                        ("VOL", "Volmacht"), ("EUD", "Euthanasieverzoek met aanvulling Dementie")), (6, 2, 3, 1))
_CONSENT_SCOPE = fhir.concept(_HL7 + "consentscope", "adr", "Advanced Care Directive")
_CONSENT_CATEGORY = fhir.concept(_HL7 + "consentcategorycodes", "acd", "Advance Directive")
_ALERT_CONDITION = fhir.concept(fhir.LOINC, "75323-6", "Condition")
_ALERT = fhir.concept(fhir.LOINC, "74018-3", "Alert")
_NOT_APPLICABLE = fhir.concept(_HL7 + "data-absent-reason", "not-applicable", "Not Applicable")
_FALL_RISK = {"coding": [fhir.coding(_HL7 + "v3-NullFlavor", "OTH", "Other")], "text": "Valrisico"}
_HUMANNAME = fhir.HL7_EXT + "humanname-"
_QUALIFIER = fhir.HL7_EXT + "iso21090-EN-qualifier"
_BIRTH_NAME = {"extension": [{"url": _QUALIFIER, "valueCode": "BR"}]}
_CALL_NAME = {"extension": [{"url": _QUALIFIER, "valueCode": "CL"}]}


@dataclass
class Custodians:
    """The providers that hold something of one person."""

    gp: Provider
    pharmacy: Provider
    hospital: Provider
    nursing_home: Provider
    home_care: Provider
    mental_health: Provider


def custodians_of(network: ProviderNetwork, seed: int, person: Person) -> Custodians:
    """A household is enrolled together; hospital and other care come from the nearest provider."""
    home = person.household
    rng = derived_random(seed, ENROLMENT, home.number)
    args = (home.pc4, home.lat, home.lon)
    return Custodians(
        gp=network.enrol(rng, "gp", *args), pharmacy=network.enrol(rng, "pharmacy", *args),
        hospital=network.nearest("hospital", *args)[0], nursing_home=network.nearest("nursing-home", *args)[0],
        home_care=network.nearest("home-care", *args)[0], mental_health=network.nearest("mental-health", *args)[0])


@dataclass
class _Record:
    """What one person's records at one custodian share: ids, the Patient reference, the author."""

    provider: Provider
    person_id: str
    patient: dict[str, str]
    emit: Callable[[Provider, Resource], None]
    count: int = 0
    problems: dict[str, dict[str, str]] = field(default_factory=dict)  # disease key -> Condition reference

    def next_id(self) -> str:
        self.count += 1
        return f"{self.person_id}-{self.count}"

    def add(self, resource: Resource) -> dict[str, str]:
        """Give the resource the next id (placed right after resourceType), emit it, return a reference."""
        resource = {"resourceType": resource["resourceType"], "id": self.next_id(), **resource}
        self.emit(self.provider, resource)
        return fhir.ref(resource["resourceType"], resource["id"])


class PersonRecords:
    """Builds and emits every resource of one person, custodian by custodian."""

    def __init__(self, seed: int, person: Person, care: CareProfile, custodians: Custodians,
                 emit: Callable[[Provider, Resource], None]) -> None:
        self.person = person
        self.care = care
        self.custodians = custodians
        self.emit = emit
        self.rng = derived_random(seed, RECORDS, person.index)
        self.agreements: dict[int, dict[str, Any]] = {}  # id(prescription) -> identifier of its MedicationRequest

    def build(self) -> None:
        care = self.care
        self.general_practice()
        hospital_rx = [p for p in care.prescriptions if p.by_hospital and p.medicine.prescriber != "psychiatry"]
        if care.episodes or care.telemonitoring or hospital_rx:
            self.hospital(hospital_rx)
        if care.mental_health is not None:
            self.mental_health()
        if care.nursing_home_since is not None:
            self.nursing_home(care.nursing_home_since)
        elif care.home_care_since is not None:
            self.home_care(care.home_care_since)
        self.pharmacy()  # last: dispenses cite the agreements made above

    # -- shared pieces -------------------------------------------------------------------------

    def open(self, provider: Provider) -> _Record:
        record = _Record(provider, str(self.person.index), fhir.ref("Patient", str(self.person.index)), self.emit)
        self.emit(provider, self.patient(provider))
        return record

    def role(self, provider: Provider, specialty: str) -> dict[str, str]:
        """The PractitionerRole of the professional who looks after this person (fixed per person)."""
        return role_ref(provider.professional(specialty, self.person.index))

    def patient(self, provider: Provider) -> Resource:
        person = self.person
        gp = self.custodians.gp
        return {
            "resourceType": "Patient", "id": str(person.index), "meta": _META["Patient"],
            "identifier": [{"system": fhir.BSN, "value": person.bsn}],
            "active": True, "name": self.names(), "gender": person.sex,
            "birthDate": person.birth_date.isoformat(), "address": [self.home_address()],
            "generalPractitioner": [organization_ref(gp) if provider is gp else organization_identifier_ref(gp)],
            "managingOrganization": organization_ref(provider),
        }

    def names(self) -> list[dict[str, Any]]:
        person = self.person
        parts = ([{"url": _HUMANNAME + "own-prefix", "valueString": person.prefix}] if person.prefix else [])
        parts.append({"url": _HUMANNAME + "own-name", "valueString": person.surname})
        if person.partner is not None and person.name_usage != "NL1":
            partner = person.partner
            if partner.prefix:
                parts.append({"url": _HUMANNAME + "partner-prefix", "valueString": partner.prefix})
            parts.append({"url": _HUMANNAME + "partner-name", "valueString": partner.surname})
        family = person.family
        official = {
            "extension": [{"url": _HUMANNAME + "assembly-order", "valueCode": person.name_usage}],
            "use": "official", "text": f"{' '.join(person.given)} {family}", "family": family,
            "_family": {"extension": parts}, "given": list(person.given), "_given": [_BIRTH_NAME] * len(person.given),
        }
        return [official, {"use": "usual", "given": [person.call_name], "_given": [_CALL_NAME]}]

    def home_address(self) -> dict[str, Any]:
        """The household's address, or the nursing home's for a resident."""
        if self.care.nursing_home_since is not None:
            home = self.custodians.nursing_home
            return fhir.address(home.street, home.house_number, home.postcode, home.place.name,
                                home.place.municipality, "home")
        household = self.person.household
        return fhir.address(household.street, household.house_number, household.postcode, household.place.name,
                            household.place.municipality, "home")

    def problem(self, record: _Record, diagnosis: Diagnosis) -> dict[str, str]:
        disease = diagnosis.disease
        if disease.key not in record.problems:
            code = {"coding": [fhir.coding(fhir.SNOMED, disease.snomed, disease.display),
                               fhir.coding(fhir.ICPC, disease.icpc, disease.icpc_display)], "text": disease.dutch}
            reference = record.add({
                "resourceType": "Condition", "meta": _META["Problem"], "clinicalStatus": _CLINICAL_ACTIVE,
                "verificationStatus": _CONFIRMED, "category": [_DIAGNOSIS, _PROBLEM_LIST], "code": code,
                "subject": record.patient, "onsetDateTime": diagnosis.onset.isoformat(),
            })
            record.problems[disease.key] = reference | {"display": disease.dutch}
        return record.problems[disease.key]

    def encounter(self, record: _Record, kind: str, start: datetime, end: datetime | None, professional_ref: dict,
                  reason: dict[str, str] | None = None, **extra: Any) -> dict[str, str]:
        resource: Resource = {
            "resourceType": "Encounter", "meta": _META["Encounter"],
            "status": "finished" if end is not None else "in-progress", "class": _ENCOUNTER_CLASS[kind],
            "subject": record.patient, "participant": [{"individual": professional_ref}],
            "period": {"start": start.isoformat()} | ({"end": end.isoformat()} if end is not None else {}),
            "location": [{"location": location_ref(record.provider)}],
            "serviceProvider": organization_ref(record.provider),
            **extra,
        }
        if reason is not None:
            resource["reasonReference"] = [reason]
        return record.add(resource)

    def vital(self, record: _Record, profile: str, code: dict, when: datetime, encounter: dict | None,
              performer: dict, **value: Any) -> None:
        resource: Resource = {"resourceType": "Observation", "meta": _META[profile], "status": "final",
                              "category": [_VITAL_SIGNS], "code": code, "subject": record.patient,
                              "effectiveDateTime": when.isoformat(), "performer": [performer], **value}
        if encounter is not None:
            resource["encounter"] = encounter
        record.add(resource)

    def blood_pressure(self, record: _Record, when: datetime, encounter: dict | None, performer: dict) -> None:
        high = self.care.has("hypertension") or self.care.has("diabetes-type-2")
        systolic = round(self.rng.gauss(142 if high else 124 + max(0, self.person.age - 40) * 0.3, 12))
        diastolic = round(max(50, min(systolic - 25, self.rng.gauss(systolic * 0.6, 6))))
        self.vital(record, "BloodPressure", _BP_CODE, when, encounter, performer, component=[
            {"code": _SYSTOLIC, "valueQuantity": fhir.quantity(systolic, "mm[Hg]")},
            {"code": _DIASTOLIC, "valueQuantity": fhir.quantity(diastolic, "mm[Hg]")}])

    def weight(self, record: _Record, when: datetime, encounter: dict | None, performer: dict,
               drift: float = 0.0) -> None:
        value = round(self.care.weight_kg + drift + self.rng.gauss(0, 0.6), 1)
        self.vital(record, "BodyWeight", _WEIGHT_CODE, when, encounter, performer,
                   valueQuantity=fhir.quantity(value, "kg"))

    def labs(self, record: _Record, tests: Iterable[str], when: datetime, encounter: dict | None) -> None:
        """The results of one blood draw, each test once."""
        for key, value in blood_draw(self.rng, tests, self.person, self.care).items():
            test = LAB_TESTS[key]
            low, high = test.normal
            resource: Resource = {
                "resourceType": "Observation", "meta": _META["LaboratoryTestResult"], "status": "final",
                "category": [_LABORATORY], "code": fhir.concept(fhir.LOINC, test.loinc, test.display, test.dutch),
                "subject": record.patient, "effectiveDateTime": when.isoformat(),
                "valueQuantity": fhir.quantity(value, test.unit),
                "referenceRange": [{"low": fhir.quantity(low, test.unit), "high": fhir.quantity(high, test.unit)}],
            }
            if value > high or value < low:
                resource["interpretation"] = [_ABOVE_RANGE if value > high else _BELOW_RANGE]
            if encounter is not None:
                resource["encounter"] = encounter
            record.add(resource)

    def agreement(self, record: _Record, prescription: Prescription, requester: dict,
                  reason: dict[str, str]) -> None:
        medicine = prescription.medicine
        system = fhir.LOCAL_IDENTIFIER.format(ura=record.provider.ura, kind="MedicationRequest")
        identifier = {"system": system, "value": record.next_id()}
        self.emit(record.provider, {
            "resourceType": "MedicationRequest", "id": identifier["value"], "meta": fhir.PLAIN_META,
            "identifier": [identifier], "status": "active", "intent": "order",
            "medicationCodeableConcept": fhir.concept(fhir.ATC, medicine.atc, medicine.atc_name, medicine.product),
            "subject": record.patient, "authoredOn": prescription.start.isoformat(), "requester": requester,
            "reasonReference": [reason], "dosageInstruction": [{"text": medicine.dose}],
        })
        self.agreements[id(prescription)] = identifier

    # -- custodians ----------------------------------------------------------------------------

    def general_practice(self) -> None:
        care, rng = self.care, self.rng
        gp = self.custodians.gp
        record = self.open(gp)
        doctor = self.role(gp, "gp")
        for diagnosis in care.diagnoses:
            self.problem(record, diagnosis)
        adult = self.person.age >= ADULT_AGE
        first_adult_visit = adult
        for number, visit in enumerate(care.gp_visits):
            known = [d for d in care.diagnoses if d.onset <= visit.date()]  # diagnosed by the time of the visit
            chronic = next((d for d in known if d.disease.key != "depression"), None)
            reason = self.problem(record, chronic) if chronic else None
            encounter = self.encounter(record, "AMB", visit, visit + timedelta(minutes=15), doctor, reason)
            if first_adult_visit:
                self.vital(record, "BodyHeight", _HEIGHT_CODE, visit, encounter, doctor,
                           valueQuantity=fhir.quantity(care.height_cm, "cm"))
                first_adult_visit = False
            if chronic or rng.random() < 0.3:
                if adult:  # a child's blood pressure is not taken at an ordinary visit
                    self.blood_pressure(record, visit, encounter, doctor)
                self.weight(record, visit, encounter, doctor)
            ordered = [key for d in known if number % (2 if d.disease.key == "diabetes-type-2" else 4) == 0
                       for key in d.disease.labs]
            if ordered:
                self.labs(record, ordered, visit - timedelta(days=7), None)
        for prescription in care.prescriptions:
            if not prescription.by_hospital:
                self.agreement(record, prescription, doctor, self.problem(record, prescription.reason))
        for kind, day in care.vaccinations:
            record.add({
                "resourceType": "Immunization", "meta": _META["Vaccination-event"], "status": "completed",
                "vaccineCode": _VACCINES[kind], "patient": record.patient,
                "occurrenceDateTime": day.isoformat(), "location": location_ref(gp),
                "performer": [{"function": _ADMINISTRATOR, "actor": doctor}],
            })
        if care.has("dementia"):
            dementia = next(d for d in care.diagnoses if d.disease.key == "dementia")
            self.alert(record, _ALERT_CONDITION, _NOT_APPLICABLE, dementia.onset, self.problem(record, dementia))

    def alert(self, record: _Record, category: dict, code: dict, since: date, condition: dict | None) -> None:
        """An active alert, raised on a day between ``since`` (what it warns about began) and today."""
        start = since + timedelta(days=self.rng.randint(0, (REFERENCE_DATE - since).days - 1))
        resource: Resource = {"resourceType": "Flag", "meta": _META["Alert"], "status": "active",
                              "category": [category], "code": code, "subject": record.patient,
                              "period": {"start": start.isoformat()}}
        if condition is not None:
            resource["extension"] = [{"url": fhir.HL7_EXT + "flag-detail", "valueReference": condition}]
        record.add(resource)

    def hospital(self, prescriptions: list[Prescription]) -> None:
        care, rng = self.care, self.rng
        hospital = self.custodians.hospital
        record = self.open(hospital)
        referrer = organization_identifier_ref(self.custodians.gp)
        for episode in care.episodes:
            specialist = self.role(hospital, episode.specialty)
            reason = self.problem(record, episode.reason) if episode.reason else None
            extra: dict[str, Any] = {}
            if episode.admission:
                extra["hospitalization"] = {"origin": referrer, "admitSource": self.residence(episode.start),
                                            "dischargeDisposition": self.residence(episode.end)}
            encounter = self.encounter(record, "IMP" if episode.admission else "AMB", episode.start, episode.end,
                                       specialist, reason, **extra)
            if episode.procedure is not None:
                self.procedure(record, episode, encounter, specialist, reason)
            if episode.reason is not None and episode.reason.disease.key == "heart-failure":
                self.labs(record, ["ntprobnp"], episode.start, encounter)
        for prescription in prescriptions:
            specialist = self.role(hospital, prescription.medicine.prescriber)
            self.agreement(record, prescription, specialist, self.problem(record, prescription.reason))
        if care.telemonitoring:
            self.telemonitoring(record)

    def residence(self, moment: datetime) -> dict[str, Any]:
        """Where the person lived at a moment: at home, or in the nursing home once moved in."""
        since = self.care.nursing_home_since
        return _NURSING_HOME if since is not None and moment.date() >= since else _HOME

    def procedure(self, record: _Record, episode: Episode, encounter: dict, performer: dict,
                  reason: dict | None) -> None:
        code, display, dutch = episode.procedure  # type: ignore[misc]
        resource: Resource = {
            "resourceType": "Procedure", "meta": _META["Procedure-event"], "status": "completed",
            "code": fhir.concept(fhir.SNOMED, code, display, dutch), "subject": record.patient,
            "encounter": encounter, "performedPeriod": {"start": episode.start.isoformat(),
                                                        "end": (episode.start + PROCEDURE_LENGTH).isoformat()},
            "performer": [{"actor": performer}], "location": location_ref(record.provider),
        }
        if reason is not None:
            resource["reasonReference"] = [reason]
        record.add(resource)

    def telemonitoring(self, record: _Record) -> None:
        """Home measurements sent in by the patient: weight every day, blood pressure every other day."""
        start = REFERENCE_DATE - timedelta(days=60)
        trend = self.rng.uniform(-1.5, 2.5)  # kg over the period: fluid retention shows as a rise
        for day in range(60):
            when = datetime.combine(start + timedelta(days=day), time(8, self.rng.randint(0, 40)), AMSTERDAM)
            self.weight(record, when, None, record.patient, drift=trend * day / 60)
            if day % 2 == 0:
                self.blood_pressure(record, when, None, record.patient)

    def mental_health(self) -> None:
        provider = self.custodians.mental_health
        record = self.open(provider)
        diagnosis = self.care.mental_health
        assert diagnosis is not None
        reason = self.problem(record, diagnosis)
        sessions = [REFERENCE_DATE - timedelta(days=30 + 35 * n) for n in range(self.rng.randint(3, 8))]
        sessions = sorted(day for day in sessions if day >= diagnosis.onset)
        for number, day in enumerate(sessions):
            specialty = "psychiatry" if number == 0 else "psychology"  # the psychiatrist's intake first
            start = datetime.combine(day, time(10), AMSTERDAM)
            self.encounter(record, "AMB", start, start + timedelta(minutes=45),
                           self.role(provider, specialty), reason)
        psychiatrist = self.role(provider, "psychiatry")
        for prescription in self.care.prescriptions:
            if prescription.by_hospital and prescription.medicine.prescriber == "psychiatry":
                self.agreement(record, prescription, psychiatrist, reason)

    def nursing_home(self, since: date) -> None:
        care = self.care
        provider = self.custodians.nursing_home
        record = self.open(provider)
        doctor = self.role(provider, "elderly-care")
        start = datetime.combine(since, time(11), AMSTERDAM)
        self.encounter(record, "IMP", start, None, doctor, None, hospitalization={
            "origin": organization_identifier_ref(self.custodians.gp), "admitSource": _HOME})
        self.living_situation(record, "WLZIN", since)
        self.status(record, since, dependent=2)
        dementia = next((d for d in care.diagnoses if d.disease.key == "dementia"), None)
        if dementia is not None:
            self.memory(record, since, self.problem(record, dementia))
        code, display = _DIRECTIVES.pick(self.rng)
        directive: Resource = {
            "resourceType": "Consent", "meta": _META["AdvanceDirective"], "status": "active",
            "scope": _CONSENT_SCOPE, "category": [_CONSENT_CATEGORY], "patient": record.patient,
            "dateTime": (since + timedelta(days=14)).isoformat(), "policy": [{"uri": "https://wetten.overheid.nl/"}],
            "provision": {"code": [fhir.concept(fhir.ADVANCE_DIRECTIVE_TYPE, code, display)]},
        }
        if dementia is not None:
            directive["extension"] = [{"url": fhir.NICTIZ_EXT + "ext-AdvanceDirective.Disorder",
                                       "valueReference": record.problems["dementia"]}]
        record.add(directive)
        if self.rng.random() < 0.4:
            self.alert(record, _ALERT, _FALL_RISK, since, None)

    def home_care(self, since: date) -> None:
        provider = self.custodians.home_care
        record = self.open(provider)
        nurse = self.role(provider, "district-nursing")
        first = max(since, REFERENCE_DATE - timedelta(days=RECORD_DAYS))  # the record period, up to today
        for day in range(0, (REFERENCE_DATE - first).days, 28):
            visit = datetime.combine(first + timedelta(days=day), time(9, 30), AMSTERDAM)
            self.encounter(record, "HH", visit, visit + timedelta(minutes=30), nurse)
        house = self.rng.choice(("EENGEZW", "FLATW", "BENEDENW", "AANLW"))
        self.living_situation(record, house, since)
        self.status(record, since, dependent=1)

    def living_situation(self, record: _Record, house: str, since: date) -> None:
        when = since.isoformat()
        house_type = record.add({
            "resourceType": "Observation", "meta": _META["LivingSituation.HouseType"], "status": "final",
            "code": _HOUSE_TYPE_CODE, "subject": record.patient, "effectiveDateTime": when,
            "valueCodeableConcept": fhir.concept(fhir.HOUSE_TYPE, house, _HOUSE_TYPES[house])})
        record.add({
            "resourceType": "Observation", "meta": _META["LivingSituation"], "status": "final",
            "code": _LIVING_CODE, "subject": record.patient, "effectiveDateTime": when,
            "hasMember": [house_type | {"display": f"Woningtype: {_HOUSE_TYPES[house]}"}]})

    def status(self, record: _Record, since: date, dependent: int) -> None:
        code, display, dutch = _MOBILITY_LEVELS[min(2, dependent + (self.person.age >= 90))]
        record.add({
            "resourceType": "Observation", "meta": _META["FunctionalOrMentalStatus"], "status": "final",
            "category": [_FUNCTIONAL], "code": _WALKING, "subject": record.patient,
            "effectiveDateTime": since.isoformat(),
            "valueCodeableConcept": fhir.concept(fhir.SNOMED, code, display, dutch)})

    def memory(self, record: _Record, since: date, problem: dict) -> None:
        code, display, dutch = _SEVERITY[self.rng.choice((1, 2, 2))]
        record.add({
            "resourceType": "Observation", "meta": _META["FunctionalOrMentalStatus"], "status": "final",
            "category": [_MENTAL], "code": _MEMORY, "subject": record.patient, "effectiveDateTime": since.isoformat(),
            "valueCodeableConcept": fhir.concept(fhir.SNOMED, code, display, dutch), "focus": [problem]})

    def pharmacy(self) -> None:
        care = self.care
        pharmacy = self.custodians.pharmacy
        record = self.open(pharmacy)
        pharmacist = self.role(pharmacy, "pharmacy")
        for code, display, dutch, category in care.allergies:
            record.add({
                "resourceType": "AllergyIntolerance", "meta": _META["AllergyIntolerance"],
                "clinicalStatus": _ALLERGY_CLINICAL, "verificationStatus": _ALLERGY_CONFIRMED,
                "category": [_ALLERGY_CATEGORY[category]],
                "_category": [{"extension": [{"url": fhir.NICTIZ_EXT + "ext-CodeSpecification", "valueCodeableConcept":
                                              fhir.concept(fhir.SNOMED, category,
                                                           _ALLERGY_CATEGORY_DISPLAY[category])}]}],
                "code": fhir.concept(fhir.SNOMED, code, display, dutch), "patient": record.patient,
                "recorder": pharmacist,
            })
        first_day = REFERENCE_DATE - timedelta(days=RECORD_DAYS)
        for prescription in care.prescriptions:
            medicine = prescription.medicine
            medication = fhir.concept(fhir.ATC, medicine.atc, medicine.atc_name, medicine.product)
            agreement = self.agreements[id(prescription)]
            day = max(prescription.start, first_day)
            last_dispense = None
            while day < REFERENCE_DATE:
                handed = datetime.combine(working_day(day), time(self.rng.randint(9, 17), self.rng.choice((0, 20, 40))),
                                          AMSTERDAM)
                last_dispense = record.add({
                    "resourceType": "MedicationDispense", "meta": fhir.PLAIN_META, "status": "completed",
                    "medicationCodeableConcept": medication, "subject": record.patient,
                    "performer": [{"actor": pharmacist}],
                    "authorizingPrescription": [{"type": "MedicationRequest", "identifier": agreement}],
                    "quantity": {"value": round(90 * medicine.per_day), "unit": medicine.unit,
                                 "system": fhir.UCUM, "code": medicine.unit},
                    "daysSupply": {"value": 90, "unit": "dag", "system": fhir.UCUM, "code": "d"},
                    "whenHandedOver": handed.isoformat(), "dosageInstruction": [{"text": medicine.dose}],
                })
                day += timedelta(days=90)
            statement: Resource = {
                "resourceType": "MedicationStatement", "meta": fhir.PLAIN_META, "status": "active",
                "medicationCodeableConcept": medication, "subject": record.patient,
                "effectivePeriod": {"start": prescription.start.isoformat()},
                "dateAsserted": (REFERENCE_DATE - timedelta(days=1)).isoformat(), "informationSource": pharmacist,
                "dosage": [{"text": medicine.dose}],
            }
            if last_dispense is not None:
                statement["derivedFrom"] = [last_dispense]
            record.add(statement)
