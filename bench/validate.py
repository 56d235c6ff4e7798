"""Micro-benchmark of the validator: microseconds per resource, base R4 validation and with profiles.

The resources are the Nictiz zib2020 examples (../shared/fhir/nictiz-r4-zib2020/examples), parsed
from XML once. "base" validates each without its meta.profile (what every write costs), "profiles"
validates it against its declared nl-core profiles as well. Definitions are compiled in a warm-up
round first, as in a running node. Usage:

    .venv/bin/python bench/validate.py [--rounds N] [--package-dir DIR]
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import structlog

from samen.fhir.conformance import Conformance
from samen.fhir.conformance.loading import load_packages
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator
from samen.fhir.xml import parse_resource

DEFAULT_PACKAGES = Path(__file__).resolve().parents[2] / "shared" / "fhir" / "nictiz-r4-zib2020"
SHOWN = ("nl-core-CareTeam-01-Patient-01.xml", "nl-core-HealthProfessional-Practitioner-01.xml", "nl-core-BloodPressure-01.xml", "nl-core-BodyWeight-01.xml",
         "nl-core-Problem-01.xml", "nl-core-MedicationUse2-01.xml", "nl-core-Encounter-01.xml")


def _without_profiles(resource: dict[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(resource)
    bare.get("meta", {}).pop("profile", None)
    if bare.get("meta") == {}:
        del bare["meta"]
    return bare


def _microseconds(validator: Validator, resource: dict[str, Any], rounds: int) -> float:
    """The best of five runs of ``rounds / 5`` validations (other processes on the machine only add time)."""
    per_run = max(1, rounds // 5)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(per_run):
            validator.validate(resource)
        best = min(best, (time.perf_counter() - started) / per_run)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--package-dir", type=Path, default=DEFAULT_PACKAGES)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    model, conformance = Model.load(), Conformance()
    started = time.perf_counter()
    load_packages([args.package_dir / "zib", args.package_dir / "nl-core"], conformance, model)
    print(f"packages loaded in {time.perf_counter() - started:.2f} s")
    validator = Validator(model, conformance, Terminology(conformance))
    examples = {path.name: parse_resource(path.read_bytes(), model) for path in sorted((args.package_dir / "examples").glob("*.xml"))}

    started = time.perf_counter()
    for resource in examples.values():
        validator.validate(resource)
    print(f"first validation of all {len(examples)} examples (compiling the definitions): {time.perf_counter() - started:.2f} s")

    base, profiled = [], []
    print(f"\n{'example':48} {'base us':>9} {'profiles us':>12}")
    for name, resource in examples.items():
        base.append(_microseconds(validator, _without_profiles(resource), args.rounds))
        profiled.append(_microseconds(validator, resource, args.rounds))
        if name in SHOWN:
            print(f"{name:48} {base[-1]:9.0f} {profiled[-1]:12.0f}")
    print(f"{'all ' + str(len(examples)) + ' examples, median':48} {statistics.median(base):9.0f} {statistics.median(profiled):12.0f}")
    print(f"{'all ' + str(len(examples)) + ' examples, mean':48} {statistics.mean(base):9.0f} {statistics.mean(profiled):12.0f}")


if __name__ == "__main__":
    main()
