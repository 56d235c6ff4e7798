"""Search latency: sequential requests (one at a time, keep-alive) over realistic query shapes.

Each shape is a function of a random generator and the facts of the loaded data (bench/data.py),
so parameters are drawn from what is really in the database. Reported per shape: p50/p95 latency,
errors, and the mean number of entries in the first page (to show the searches find something).
"""

from __future__ import annotations

import http.client
import random
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
OBS_CODES = ["85354-9", "29463-7", "4548-4"]
COND_CODES = ["44054006", "84114007", "13645005", "38341003"]


def q(value: str) -> str:
    return quote(value, safe="")


def _pick(rng: random.Random, facts: dict, kind: str) -> dict:
    return rng.choice(facts[kind])


def _year_range(rng: random.Random) -> str:
    year = rng.randint(1936, 1993)
    return f"birthdate=ge{year}-01-01&birthdate=lt{year + 1}-01-01"


def _week(rng: random.Random, start: str = "2023-01-09", weeks: int = 100) -> tuple[str, str]:
    import datetime as dt

    first = dt.date.fromisoformat(start) + dt.timedelta(weeks=rng.randrange(weeks))
    return first.isoformat(), (first + dt.timedelta(days=7)).isoformat()


Shape = Callable[[random.Random, dict], str]

SHAPES: dict[str, Shape] = {
    "Patient?identifier=bsn": lambda r, f: f"Patient?identifier={q(BSN + '|' + _pick(r, f, 'patient')['bsn'])}",
    "Patient?family": lambda r, f: f"Patient?family={q(_pick(r, f, 'patient')['family'])}&_count=20",
    "Patient?name+given": lambda r, f: (lambda p: f"Patient?name={q(p['family'])}&given={q(p['given'])}&_count=20")(_pick(r, f, 'patient')),
    "Patient?birthdate range (1 year)": lambda r, f: f"Patient?{_year_range(r)}&_count=20",
    "Patient?birthdate eq": lambda r, f: f"Patient?birthdate={_pick(r, f, 'patient')['birthDate']}",
    "Patient?gender+address-city": lambda r, f: (lambda p: f"Patient?gender={p['gender']}&address-city={q(p['city'])}&_count=20")(_pick(r, f, 'patient')),
    "Patient?address-postalcode": lambda r, f: f"Patient?address-postalcode={q(_pick(r, f, 'patient')['postalCode'])}",
    "Patient?_id": lambda r, f: f"Patient?_id={_pick(r, f, 'patient')['id']}",
    "Observation?patient+code": lambda r, f: (lambda o: f"Observation?patient=Patient/{o['patient']}&code={q(LOINC + '|' + o['code'])}")(_pick(r, f, 'observation')),
    "Observation?patient+code+date": lambda r, f: (lambda o: f"Observation?patient=Patient/{o['patient']}&code={q(LOINC + '|' + o['code'])}&date=ge{o['date'][:7]}-01")(_pick(r, f, 'observation')),
    "Observation?subject+category": lambda r, f: f"Observation?subject=Patient/{_pick(r, f, 'observation')['patient']}&category=vital-signs",
    "Observation?patient&_sort=-date&_count=5": lambda r, f: f"Observation?patient={_pick(r, f, 'observation')['patient']}&_sort=-date&_count=5",
    "Observation?code+value-quantity": lambda r, f: f"Observation?code={q(LOINC + '|4548-4')}&value-quantity=gt{r.choice(['8', '8.2', '8.4'])}&_count=20",
    "Observation?code+date (1 week)": lambda r, f: (lambda w: f"Observation?code={q(LOINC + '|' + r.choice(OBS_CODES))}&date=ge{w[0]}&date=lt{w[1]}&_count=20")(_week(r)),
    "Condition?patient": lambda r, f: f"Condition?patient=Patient/{_pick(r, f, 'observation')['patient']}",
    "Condition?patient+clinical-status": lambda r, f: f"Condition?patient={_pick(r, f, 'observation')['patient']}&clinical-status=active",
    "Condition?code": lambda r, f: f"Condition?code={q(SNOMED + '|' + r.choice(COND_CODES))}&_count=20",
    "Encounter?date (1 week)": lambda r, f: (lambda w: f"Encounter?date=ge{w[0]}&date=lt{w[1]}&_count=20")(_week(r)),
    "Encounter?patient": lambda r, f: f"Encounter?patient={_pick(r, f, 'observation')['patient']}",
    "MedicationRequest?patient+status": lambda r, f: f"MedicationRequest?patient={_pick(r, f, 'observation')['patient']}&status=active",
    "MedicationRequest?patient&_include=requester": lambda r, f: f"MedicationRequest?patient={_pick(r, f, 'observation')['patient']}&_include=MedicationRequest:requester",
    "Encounter?patient&_include=service-provider": lambda r, f: f"Encounter?patient={_pick(r, f, 'observation')['patient']}&_include=Encounter:service-provider",
    "Patient?_id&_revinclude=Condition:subject": lambda r, f: f"Patient?_id={_pick(r, f, 'patient')['id']}&_revinclude=Condition:subject",
    "Observation?patient.identifier (chained)": lambda r, f: f"Observation?patient.identifier={q(BSN + '|' + _pick(r, f, 'patient')['bsn'])}&code={q(LOINC + '|29463-7')}",
    "Condition?subject:Patient.birthdate (chained)": lambda r, f: f"Condition?subject:Patient.birthdate={_pick(r, f, 'patient')['birthDate']}",
    "AllergyIntolerance?patient": lambda r, f: f"AllergyIntolerance?patient={_pick(r, f, 'observation')['patient']}",
    "Patient/{id}/Observation (compartment)": lambda r, f: f"Patient/{_pick(r, f, 'observation')['patient']}/Observation?_count=20",
    "Practitioner?identifier": lambda r, f: f"Practitioner?identifier={q(UZI + '|' + _pick(r, f, 'practitioner')['uzi'])}",
    "Organization?name": lambda r, f: f"Organization?name={q(_pick(r, f, 'organization')['name'].split()[0])}",
    "Observation?_lastUpdated&_count=20": lambda r, f: "Observation?_lastUpdated=gt2000-01-01&_count=20",
}


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))
    return ordered[int(index)]


def run(base_url: str, facts: dict[str, Any], per_shape: int = 40, warmup: int = 3, seed: int = 7,
        progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Issue ``per_shape`` measured requests per shape (after ``warmup``), one at a time."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    prefix = parts.path.rstrip("/")
    rng = random.Random(seed)
    shapes: dict[str, Any] = {}
    everything: list[float] = []
    for name, make in SHAPES.items():
        latencies: list[float] = []
        hits: list[int] = []
        errors: dict[str, int] = {}
        example = None
        for i in range(warmup + per_shape):
            path = make(rng, facts)
            example = example or path
            started = time.perf_counter()
            conn.request("GET", f"{prefix}/{path}", headers={"Accept": "application/fhir+json"})
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if i < warmup:
                continue
            if response.status != 200:
                errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                if len(errors) == 1 and sum(errors.values()) == 1:
                    errors["first"] = body[:300].decode(errors="replace")  # type: ignore[assignment]
                continue
            latencies.append(elapsed)
            try:
                bundle = orjson.loads(body)
                hits.append(sum(1 for e in bundle.get("entry") or [] if (e.get("search") or {}).get("mode", "match") == "match"))
            except orjson.JSONDecodeError:
                pass
        everything += latencies
        shapes[name] = {
            "example": example,
            "n": len(latencies),
            "p50_ms": _percentile(latencies, 50),
            "p95_ms": _percentile(latencies, 95),
            "mean_hits": statistics.fmean(hits) if hits else None,
            "errors": errors,
        }
        progress(f"{name}: p50 {shapes[name]['p50_ms'] or float('nan'):.1f} ms, errors {sum(v for v in errors.values() if isinstance(v, int))}")
    conn.close()
    p50s = [s["p50_ms"] for s in shapes.values() if s["p50_ms"] is not None]
    return {
        "per_shape": per_shape,
        "shapes": shapes,
        "overall": {
            "p50_ms": _percentile(everything, 50),
            "p95_ms": _percentile(everything, 95),
            "median_of_shape_p50s_ms": statistics.median(p50s) if p50s else None,
            "shapes_ok": sum(1 for s in shapes.values() if s["n"] and not s["errors"]),
            "shapes": len(shapes),
        },
    }
