"""The records as a GP, a pharmacist and a hospital would read them: dates, ages, tests and visits that fit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import manifest, resources

from samen.synth.data.population import ADULT_AGE
from samen.synth.people import REFERENCE_DATE
from samen.synth.run import SynthOptions, generate

Resource = dict[str, Any]
BLOOD_PRESSURE = "85354-9"
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
