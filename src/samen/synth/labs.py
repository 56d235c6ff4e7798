"""Laboratory values that fit the person: diseases, medicines, age and sex; eGFR from the creatinine.

A blood draw gives each test once; the eGFR is not drawn on its own but computed by the laboratory
from the creatinine of the same draw, with the CKD-EPI equation named in its LOINC code (62238-1).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from samen.synth.care import CareProfile
from samen.synth.data.clinical import LAB_TESTS
from samen.synth.people import Person

_MG_PER_DL = 88.4  # umol/L of creatinine in one mg/dL


def ckd_epi(creatinine: float, age: int, sex: str) -> float:
    """eGFR in mL/min/1.73 m2 by CKD-EPI 2009 without the race factor, from creatinine in umol/L."""
    female = sex == "female"
    kappa, alpha = (0.7, -0.329) if female else (0.9, -0.411)
    ratio = creatinine / _MG_PER_DL / kappa
    return 141 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.209 * 0.993 ** age * (1.018 if female else 1)


def blood_draw(rng: random.Random, tests: Iterable[str], person: Person, care: CareProfile) -> dict[str, float]:
    """The reported value of each test (LAB_TESTS key) of one draw, rounded as reported."""
    values: dict[str, float] = {}
    for key in dict.fromkeys(tests):
        if key == "egfr":
            creatinine = values.get("creatinine") or _rounded("creatinine", _measured(rng, "creatinine", person, care))
            value = ckd_epi(creatinine, person.age, person.sex)
        else:
            value = _measured(rng, key, person, care)
        values[key] = _rounded(key, value)
    return values


def _measured(rng: random.Random, key: str, person: Person, care: CareProfile) -> float:
    """A value consistent with the person's diseases and medication (e.g. high HbA1c with diabetes)."""
    heart_failure = care.has("heart-failure")
    if key == "hba1c":
        return rng.gauss(56, 9) if care.has("diabetes-type-2") else rng.gauss(36, 3)
    if key == "glucose":
        return rng.gauss(8.4, 1.8) if care.has("diabetes-type-2") else rng.gauss(5.3, 0.5)
    if key == "ntprobnp":
        return math.exp(rng.gauss(math.log(1400 if heart_failure else 60), 0.7))
    if key == "creatinine":
        base = 85 if person.sex == "male" else 70
        return rng.gauss(base + max(0, person.age - 60) * 0.6 + (30 if heart_failure else 0), 12)
    if key == "potassium":
        raised = any(p.medicine.atc == "C03DA01" for p in care.prescriptions)  # spironolactone
        return rng.gauss(4.6 if raised else 4.2, 0.35)
    if key == "ldl":
        on_statin = any(p.medicine.atc == "C10AA05" for p in care.prescriptions)  # atorvastatin
        return rng.gauss(2.2 if on_statin else 3.2, 0.6)
    raise KeyError(key)


def _rounded(key: str, value: float) -> float:
    decimals = LAB_TESTS[key].decimals
    return round(max(value, 0.1), decimals) if decimals else round(max(value, 1))
