"""The records as a GP, a pharmacist and a hospital would read them: dates, ages, tests and visits that fit."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import manifest, resources
from test_population import population as sample_people

from samen.synth.care import AMSTERDAM, DISEASE_BY_KEY, RECORD_DAYS, CareProfile, Diagnosis, Episode
from samen.synth.data.population import ADULT_AGE
from samen.synth.labs import ckd_epi
from samen.synth.people import REFERENCE_DATE
from samen.synth.places import EMBEDDED_PLACES
from samen.synth.providers import ProviderNetwork
from samen.synth.records import PersonRecords, custodians_of
from samen.synth.run import SynthOptions, generate

Resource = dict[str, Any]
BLOOD_PRESSURE, CREATININE, EGFR = "85354-9", "14682-9", "62238-1"
HOME, NURSING_HOME = "264362003", "42665001"  # SNOMED CT
_DATE = re.compile(rb'"(\d{4}-\d\d-\d\d)(?:T[^"]*)?"')


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 people of all of the Netherlands (seed 3): enough infants, chronic patients and home care."""
    out = tmp_path_factory.mktemp("records") / "out"
    generate(SynthOptions(people=2_000, seed=3, out=out, workers=1))
    return out


def custodian_resources(root: Path, kind: str) -> Iterator[Resource]:
    for custodian in manifest(root)["custodians"]:
        if custodian["kind"] == kind:
            yield from resources(root / custodian["folder"])


def subject_id(resource: Resource) -> str:
    return (resource.get("subject") or resource["patient"])["reference"].removeprefix("Patient/")


def test_nothing_happens_before_birth_or_after_the_reference_date(population: Path) -> None:
    for custodian in manifest(population)["custodians"]:
        held = list(resources(population / custodian["folder"]))
        born = {r["id"]: r["birthDate"] for r in held if r["resourceType"] == "Patient"}
        for resource in held:
            if "subject" not in resource and "patient" not in resource:
                continue
            for day in _DATE.findall(orjson.dumps(resource)):
                assert born[subject_id(resource)] <= day.decode() <= REFERENCE_DATE.isoformat(), (
                    custodian["folder"], resource["resourceType"], resource["id"], day)


def test_blood_pressure_is_measured_in_adults_only(population: Path) -> None:
    """A GP does not take a child's blood pressure at an ordinary visit (and adults' values would be wrong)."""
    held = list(custodian_resources(population, "gp"))
    born = {r["id"]: r["birthDate"] for r in held if r["resourceType"] == "Patient"}
    adult_from = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - ADULT_AGE).isoformat()
    measured = [subject_id(r) for r in held if r["resourceType"] == "Observation"
                and r["code"]["coding"][0]["code"] == BLOOD_PRESSURE]
    assert measured and all(born[patient] <= adult_from for patient in measured)


def lab_results(root: Path, kind: str) -> list[Resource]:
    return [r for r in custodian_resources(root, kind) if r["resourceType"] == "Observation"
            and r["category"][0]["coding"][0]["code"] == "laboratory"]


def test_each_test_is_reported_once_per_blood_draw(population: Path) -> None:
    """A diabetic with heart failure has one creatinine per draw, not one for each disease."""
    for kind in ("gp", "hospital"):
        draws = [(subject_id(r), r["code"]["coding"][0]["code"], r["effectiveDateTime"]) for r in
                 lab_results(population, kind)]
        assert len(draws) == len(set(draws)), kind


def test_ckd_epi_gives_the_published_equation() -> None:
    """CKD-EPI 2009 without the race factor, worked by hand: 141 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.209
    x 0.993^age (x 1.018 for women), Scr in mg/dL (umol/L / 88.4)."""
    assert ckd_epi(0.8 * 88.4, 50, "female") == pytest.approx(85.96, abs=0.01)
    assert ckd_epi(1.2 * 88.4, 60, "male") == pytest.approx(65.33, abs=0.01)
    assert ckd_epi(0.6 * 88.4, 40, "male") == pytest.approx(141 * (0.6 / 0.9) ** -0.411 * 0.993 ** 40)


def test_egfr_is_computed_from_the_creatinine_of_the_same_draw(population: Path) -> None:
    patients = {r["id"]: r for r in custodian_resources(population, "gp") if r["resourceType"] == "Patient"}
    results = lab_results(population, "gp")
    creatinine = {(subject_id(r), r["effectiveDateTime"]): r["valueQuantity"]["value"] for r in results
                  if r["code"]["coding"][0]["code"] == CREATININE}
    egfrs = [r for r in results if r["code"]["coding"][0]["code"] == EGFR]
    assert egfrs
    for egfr in egfrs:
        patient = patients[subject_id(egfr)]
        age = (REFERENCE_DATE - date.fromisoformat(patient["birthDate"])).days // 365.25
        expected = ckd_epi(creatinine[(subject_id(egfr), egfr["effectiveDateTime"])], age, patient["gender"])
        assert abs(egfr["valueQuantity"]["value"] - expected) <= 1, egfr["id"]


def test_home_care_visits_go_on_until_the_reference_date(population: Path) -> None:
    """A client in home care since three years is still visited this month, not only in the first two years."""
    visits: dict[str, list[str]] = {}
    for resource in custodian_resources(population, "home-care"):
        if resource["resourceType"] == "Encounter":
            visits.setdefault(subject_id(resource), []).append(resource["period"]["start"][:10])
    assert visits
    last_month = (REFERENCE_DATE - timedelta(days=28)).isoformat()
    window = (REFERENCE_DATE - timedelta(days=RECORD_DAYS)).isoformat()
    for days in visits.values():
        assert max(days) >= last_month and min(days) >= window, days


def test_vaccines_are_the_ones_the_programmes_use(population: Path) -> None:
    """Influenza vaccine (J07BB02) and, for adults, the polysaccharide pneumococcal vaccine PPV23 (J07AL01)."""
    codes = {r["vaccineCode"]["coding"][0]["code"] for r in custodian_resources(population, "gp")
             if r["resourceType"] == "Immunization"}
    assert codes == {"J07BB02", "J07AL01"}


def test_procedures_and_results_lie_within_their_encounter(population: Path) -> None:
    """An echocardiogram of an hour does not fit a twenty-minute outpatient visit."""
    held = list(custodian_resources(population, "hospital"))
    periods = {r["id"]: r["period"] for r in held if r["resourceType"] == "Encounter"}
    checked = 0
    for resource in held:
        if "encounter" not in resource:
            continue
        period = periods[resource["encounter"]["reference"].removeprefix("Encounter/")]
        start = datetime.fromisoformat(period["start"])
        end = datetime.fromisoformat(period["end"]) if "end" in period else datetime.max.replace(tzinfo=start.tzinfo)
        if resource["resourceType"] == "Procedure":
            performed = resource["performedPeriod"]
            inner = datetime.fromisoformat(performed["start"]), datetime.fromisoformat(performed["end"])
        else:
            inner = (datetime.fromisoformat(resource["effectiveDateTime"]),) * 2
        assert start <= inner[0] <= inner[1] <= end, (resource["resourceType"], resource["id"], period)
        checked += 1
    assert checked



def test_an_admission_comes_from_and_returns_to_where_the_patient_lived_then() -> None:
    """Admitted from home before moving into the nursing home, from the nursing home after; discharged to
    the nursing home when the move happened during the stay."""
    person = next(p for p in sample_people(200) if p.age >= 80)
    network = ProviderNetwork(1, EMBEDDED_PLACES, 200)
    moved_in = date(2024, 6, 1)
    stays = {"before": (datetime(2024, 2, 1, 10), datetime(2024, 2, 6, 10)),
             "during": (datetime(2024, 5, 28, 10), datetime(2024, 6, 1, 12)),
             "after": (datetime(2024, 9, 1, 10), datetime(2024, 9, 4, 10))}
    care = CareProfile(nursing_home_since=moved_in, episodes=[
        Episode("cardiology", True, start.replace(tzinfo=AMSTERDAM), end.replace(tzinfo=AMSTERDAM), None, None)
        for start, end in stays.values()])
    emitted: list[tuple[str, Resource]] = []
    custodians = custodians_of(network, 1, person)
    PersonRecords(1, person, care, custodians, lambda provider, r: emitted.append((provider.kind.key, r))).build()
    admissions = {r["period"]["start"][:10]: r["hospitalization"] for kind, r in emitted
                  if kind == "hospital" and r["resourceType"] == "Encounter"}
    where = {name: (admissions[start.date().isoformat()]["admitSource"]["coding"][0]["code"],
                    admissions[start.date().isoformat()]["dischargeDisposition"]["coding"][0]["code"])
             for name, (start, _) in stays.items()}
    assert where == {"before": (HOME, HOME), "during": (HOME, NURSING_HOME), "after": (NURSING_HOME, NURSING_HOME)}


def test_an_alert_starts_after_what_it_warns_about() -> None:
    """The GP's dementia alert not before the diagnosis; the nursing home's fall-risk alert not before
    the resident moved in (both recent here, so an alert drawn over two years would precede them)."""
    person = next(p for p in sample_people(200) if p.age >= 80)
    network = ProviderNetwork(1, EMBEDDED_PLACES, 200)
    onset, moved_in = date(2024, 10, 20), date(2024, 11, 20)
    care = CareProfile(diagnoses=[Diagnosis(DISEASE_BY_KEY["dementia"], onset)], nursing_home_since=moved_in)
    starts: dict[str, list[str]] = {}
    for seed in range(20):
        emitted: list[tuple[str, Resource]] = []
        keep = lambda provider, r: emitted.append((provider.kind.key, r))  # noqa: E731
        PersonRecords(seed, person, care, custodians_of(network, seed, person), keep).build()
        for kind, resource in emitted:
            if resource["resourceType"] == "Flag":
                starts.setdefault(kind, []).append(resource["period"]["start"])
    assert min(starts["gp"]) >= onset.isoformat() and min(starts["nursing-home"]) >= moved_in.isoformat()


def test_care_for_a_problem_comes_after_its_onset(population: Path) -> None:
    """No diabetes check-up, cardiology visit or GGZ session for a problem that had not begun yet."""
    checked = 0
    for custodian in manifest(population)["custodians"]:
        held = list(resources(population / custodian["folder"]))
        onsets = {r["id"]: r["onsetDateTime"] for r in held if r["resourceType"] == "Condition"}
        for resource in held:
            if resource["resourceType"] not in ("Encounter", "Procedure"):
                continue
            start = (resource.get("period") or resource["performedPeriod"])["start"][:10]
            for reason in resource.get("reasonReference", []):
                assert onsets[reason["reference"].removeprefix("Condition/")] <= start, (
                    custodian["folder"], resource["resourceType"], resource["id"])
                checked += 1
    assert checked


def test_planned_care_happens_on_working_days(population: Path) -> None:
    """GP practice, outpatient clinic and pharmacy counter are closed at weekends (the out-of-hours GP
    service, huisartsenpost, is another organisation); emergency admissions and home care are not."""
    planned = [(kind, r["period"]["start"]) for kind in ("gp", "hospital")
               for r in custodian_resources(population, kind)
               if r["resourceType"] == "Encounter" and r["class"]["code"] == "AMB"]
    planned += [("pharmacy", r["whenHandedOver"]) for r in custodian_resources(population, "pharmacy")
                if r["resourceType"] == "MedicationDispense"]
    weekend = [(kind, moment) for kind, moment in planned if datetime.fromisoformat(moment).weekday() >= 5]
    assert planned and not weekend, weekend[:5]
