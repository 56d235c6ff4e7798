"""A person's health and care: diagnoses, medication, hospital episodes, long-term care.

Everything is decided from the person's own random generator (seed, person index), so the same
person gets the same care whatever the chunking. Dates are relative to
:data:`~samen.synth.people.REFERENCE_DATE`; the records cover roughly the last two years, chronic
diagnoses carry their onset.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from samen.synth.data.clinical import (
    ALLERGIES,
    COMORBIDITY,
    DEPRESSION,
    DISEASES,
    ELECTIVE_CARE,
    INFLUENZA_AGE,
    INFLUENZA_INDICATIONS,
    INFLUENZA_SEASONS,
    PNEUMOCOCCAL_INVITED,
    SPECIALTIES,
    Disease,
    Medicine,
)
from samen.synth.data.population import ADULT_AGE
from samen.synth.people import REFERENCE_DATE, Person
from samen.synth.randomness import CARE, derived_random

DISEASE_BY_KEY = {d.key: d for d in DISEASES}
RECORD_DAYS = 730  # the period the encounters, measurements and dispenses cover
CONSULTATION = timedelta(minutes=20)  # an outpatient visit
PROCEDURE_LENGTH = timedelta(hours=1)  # a procedure, from the start of its visit or admission
AMSTERDAM = timezone(timedelta(hours=1))  # CET; summer time is ignored (times are synthetic)


@dataclass
class Diagnosis:
    disease: Disease
    onset: date


@dataclass
class Prescription:
    medicine: Medicine
    start: date
    reason: Diagnosis
    by_hospital: bool  # a specialist's agreement (the hospital keeps it) or the GP's


@dataclass
class Episode:
    """A hospital contact: outpatient visit (AMB) or admission (IMP), with an optional procedure."""

    specialty: str
    admission: bool
    start: datetime
    end: datetime
    reason: Diagnosis | None
    procedure: tuple[str, str, str] | None


@dataclass
class CareProfile:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    allergies: list[tuple[str, str, str, str]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    gp_visits: list[datetime] = field(default_factory=list)
    nursing_home_since: date | None = None
    home_care_since: date | None = None
    mental_health: Diagnosis | None = None  # treated by a GGZ organisation
    telemonitoring: bool = False
    vaccinations: list[tuple[str, date]] = field(default_factory=list)  # ("influenza"|"pneumococcal", date)
    height_cm: float = 0.0
    weight_kg: float = 0.0

    def has(self, key: str) -> bool:
        return any(d.disease.key == key for d in self.diagnoses)

    @property
    def chronic(self) -> bool:
        return bool(self.diagnoses)


def age_group(age: int) -> int:
    return min(age // 5, len(DISEASES[0].prevalence) - 1)


def prevalence(disease: Disease, age: int, sex: str) -> float:
    """The chance that a person of this age and sex has the disease (per person, not per 1,000)."""
    return disease.prevalence[age_group(age)][0 if sex == "male" else 1] / 1000.0


def conditional_risk(p: float, q: float, relative_risk: float, exposed: bool) -> float:
    """P(disease | risk factor present or not), keeping the marginal P(disease) = p exactly.

    With q = P(risk factor), exposed people get r = min(1, rr * p, p / q) and the others what is left,
    (p - q * r) / (1 - q); the cap p / q keeps that non-negative, so the marginal is always p.
    """
    raised = min(1.0, relative_risk * p, p / q if q > 0 else 1.0)  # never more cases than p allows
    if exposed:
        return raised
    return max(0.0, (p - q * raised) / (1.0 - q)) if q < 1.0 else 0.0


def care_profile(seed: int, person: Person) -> CareProfile:
    rng = derived_random(seed, CARE, person.index)
    care = CareProfile()
    _chronic_diseases(rng, person, care)
    _comorbidity(rng, person, care)
    if ADULT_AGE <= person.age <= 75 and rng.random() < 0.025:
        diagnosis = Diagnosis(DEPRESSION, _onset(rng, person, DEPRESSION, spread=3))
        care.diagnoses.append(diagnosis)
        if rng.random() < 0.6:
            care.mental_health = diagnosis
    _body(rng, person, care)
    _hospital(rng, person, care)
    _medication(rng, care)
    _long_term_care(rng, person, care)
    _gp_contacts(rng, person, care)
    _vaccinations(rng, person, care)
    care.allergies = [allergy[:4] for allergy in ALLERGIES if rng.random() < allergy[4]]
    return care


def _chronic_diseases(rng: random.Random, person: Person, care: CareProfile) -> None:
    for disease in DISEASES:
        p = prevalence(disease, person.age, person.sex)
        if disease.risk_factor:
            q = prevalence(DISEASE_BY_KEY[disease.risk_factor], person.age, person.sex)
            p = conditional_risk(p, q, disease.relative_risk, care.has(disease.risk_factor))
        if p > 0 and rng.random() < p:
            care.diagnoses.append(Diagnosis(disease, _onset(rng, person, disease)))


def _comorbidity(rng: random.Random, person: Person, care: CareProfile) -> None:
    for disease, after, share in COMORBIDITY:
        base = next((d for d in care.diagnoses if d.disease.key == after), None)
        if base is not None and not care.has(disease.key) and rng.random() < share:
            onset = max(base.onset + timedelta(days=rng.randint(-1500, 700)),
                        person.birth_date + timedelta(days=365 * 18))
            care.diagnoses.append(Diagnosis(disease, min(onset, REFERENCE_DATE - timedelta(days=60))))


def _onset(rng: random.Random, person: Person, disease: Disease, spread: int = 20) -> date:
    """An onset between the disease's usual first age (or ``spread`` years ago) and two months ago."""
    earliest_age = max(min(disease.onset_age[0], person.age), person.age - spread)
    years = rng.uniform(earliest_age, person.age)
    onset = person.birth_date + timedelta(days=int(years * 365.25))
    return min(onset, REFERENCE_DATE - timedelta(days=60))


def _body(rng: random.Random, person: Person, care: CareProfile) -> None:
    if person.age < ADULT_AGE:
        care.height_cm = round(min(190.0, 52 + person.age * 6.5 + rng.gauss(0, 5)), 1)
        care.weight_kg = round(max(3.5, (care.height_cm / 100) ** 2 * (15 + person.age * 0.3)), 1)
        return
    mean = 181.0 if person.sex == "male" else 168.0
    shrink = max(0, person.age - 60) * 0.1
    care.height_cm = round(rng.gauss(mean - shrink, 7 if person.sex == "male" else 6.5), 1)
    bmi = rng.gauss(26.5 if care.has("diabetes-type-2") else 25.0, 4.0)
    care.weight_kg = round(max(40.0, bmi * (care.height_cm / 100) ** 2), 1)


def working_day(day: date) -> date:
    """The day itself from Monday to Friday; a weekend day moves on to Monday (never past the reference
    date, a Wednesday: the Monday after any weekend before it comes before it too)."""
    return day if day.weekday() < 5 else day + timedelta(days=7 - day.weekday())


def _when(rng: random.Random, days_back: tuple[int, int], hours: tuple[int, int] = (8, 17),
          planned: bool = True) -> datetime:
    """A moment some days back: on a working day for planned care, any day for an emergency."""
    day = REFERENCE_DATE - timedelta(days=rng.randint(*days_back))
    moment = time(rng.randint(*hours), rng.choice((0, 15, 30, 45)))
    return datetime.combine(working_day(day) if planned else day, moment, AMSTERDAM)


def _hospital(rng: random.Random, person: Person, care: CareProfile) -> None:
    """Specialist care for the chronic diseases that have it, and planned (elective) care."""
    shares = {"heart-failure": 0.9, "copd": 0.4, "dementia": 0.5, "atrial-fibrillation": 0.6, "diabetes-type-2": 0.15}
    for diagnosis in care.diagnoses:
        specialty = diagnosis.disease.specialty
        if specialty is None or specialty == "psychiatry" or rng.random() >= shares.get(diagnosis.disease.key, 0):
            continue
        procedures = SPECIALTIES[specialty].procedures
        for _ in range(rng.randint(1, 3)):
            start = _when(rng, (14, _days_known(diagnosis)))
            procedure = rng.choice(procedures) if procedures and rng.random() < 0.5 else None
            length = CONSULTATION + (PROCEDURE_LENGTH if procedure else timedelta(0))  # the test during the visit
            care.episodes.append(Episode(specialty, False, start, start + length, diagnosis, procedure))
        admission_chance = {"heart-failure": 0.3, "copd": 0.15}.get(diagnosis.disease.key, 0.0)
        if rng.random() < admission_chance:
            start = _when(rng, (20, _days_known(diagnosis)), (0, 23), planned=False)
            end = start + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 8))
            care.episodes.append(Episode(specialty, True, start, end, diagnosis,
                                         procedures[-1] if procedures else None))
        if diagnosis.disease.key == "heart-failure" and rng.random() < 0.3:
            care.telemonitoring = True
    for specialty, procedure, yearly, from_age in ELECTIVE_CARE:
        if person.age >= from_age and rng.random() < yearly * RECORD_DAYS / 365:
            start = _when(rng, (20, RECORD_DAYS), (8, 12))
            care.episodes.append(Episode(specialty, True, start, start + timedelta(days=rng.randint(0, 3), hours=6),
                                         None, SPECIALTIES[specialty].procedures[procedure]))
    care.episodes.sort(key=lambda e: e.start)


def _days_known(diagnosis: Diagnosis) -> int:
    """How many days back the record period reaches while the diagnosis exists (care for it comes after)."""
    return min(RECORD_DAYS, (REFERENCE_DATE - diagnosis.onset).days)


def _medication(rng: random.Random, care: CareProfile) -> None:
    treated_in_hospital = {e.specialty for e in care.episodes} | ({"psychiatry"} if care.mental_health else set())
    for diagnosis in care.diagnoses:
        for medicine, share in diagnosis.disease.medicines:
            if rng.random() >= share or medicine.atc[:5] in {p.medicine.atc[:5] for p in care.prescriptions}:
                continue  # not prescribed, or already on a drug of its class (one beta blocker for HF and AF)
            start = min(REFERENCE_DATE - timedelta(days=21), diagnosis.onset + timedelta(days=rng.randint(0, 180)))
            by_hospital = medicine.prescriber in treated_in_hospital
            care.prescriptions.append(Prescription(medicine, start, diagnosis, by_hospital))


def _long_term_care(rng: random.Random, person: Person, care: CareProfile) -> None:
    """Nursing home (Wlz) for advanced dementia and the very frail; home care (wijkverpleging) for others."""
    dementia = next((d for d in care.diagnoses if d.disease.key == "dementia"), None)
    chance = (0.35 if person.age >= 80 else 0.15) if dementia and person.age >= 65 else (
        0.03 if person.age >= 85 else 0.0)
    if chance and rng.random() < chance:
        earliest = dementia.onset + timedelta(days=180) if dementia else REFERENCE_DATE - timedelta(days=1500)
        since = REFERENCE_DATE - timedelta(days=rng.randint(30, 1500))
        care.nursing_home_since = max(since, min(earliest, REFERENCE_DATE - timedelta(days=30)))
        care.telemonitoring = False  # home measurements are for patients at home; the ward measures residents
        return
    frail = any(care.has(k) for k in ("heart-failure", "copd", "dementia"))
    chance = (0.1 + (0.2 if frail else 0.0)) if person.age >= 75 else (0.08 if frail and person.age >= 65 else 0.0)
    if chance and rng.random() < chance:
        care.home_care_since = REFERENCE_DATE - timedelta(days=rng.randint(30, 1000))


_CHECKED_BY_GP = ("diabetes-type-2", "heart-failure", "copd", "hypertension")


def _gp_contacts(rng: random.Random, person: Person, care: CareProfile) -> None:
    """Chronic-care check-ups (every three months for diabetes, twice a year otherwise) from the first of
    those diseases' onset, and ad-hoc visits."""
    checked = [d for d in care.diagnoses if d.disease.key in _CHECKED_BY_GP]
    if care.nursing_home_since is None and checked:
        if care.has("diabetes-type-2"):
            check_ups = [_when(rng, (90 * n + 1, 90 * n + 80)) for n in range(8)]
        else:
            check_ups = [_when(rng, (180 * n + 1, 180 * n + 170)) for n in range(4)]
        since = min(d.onset for d in checked)
        care.gp_visits += [visit for visit in check_ups if visit.date() >= since]
    if rng.random() < (0.75 if person.age >= 45 else 0.6):
        lived = (REFERENCE_DATE - person.birth_date).days  # a baby cannot have visited before it was born
        care.gp_visits.append(_when(rng, (1, min(RECORD_DAYS, lived))))
    care.gp_visits.sort()


def _vaccinations(rng: random.Random, person: Person, care: CareProfile) -> None:
    """The autumn programmes: influenza from 60 or with an indication, pneumococcal for the invited birth years."""
    indicated = any(care.has(key) for key in INFLUENZA_INDICATIONS)
    for season in INFLUENZA_SEASONS:
        if (season - person.birth_date.year >= INFLUENZA_AGE or indicated) and rng.random() < 0.55:
            care.vaccinations.append(("influenza", _autumn_day(rng, season)))
    for year, born in PNEUMOCOCCAL_INVITED:
        if person.birth_date.year in born and rng.random() < 0.4:
            care.vaccinations.append(("pneumococcal", _autumn_day(rng, year)))


def _autumn_day(rng: random.Random, year: int) -> date:
    """A day of the vaccination campaign: mid October to late November."""
    return date(year, 10, 15) + timedelta(days=rng.randint(0, 40))
