"""Small resources for the REST tests."""

from __future__ import annotations

from typing import Any

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"


def patient(bsn: str = "999911120", family: str = "Jansen", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": BSN, "value": bsn}],
        "name": [{"family": family, "given": ["Anna"]}],
        "gender": "female",
        "birthDate": "1950-04-01",
        **extra,
    }


def observation(subject: str, code: str = "8867-4", value: float = 72, when: str = "2024-05-01") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
