"""Token search modifiers answered with the node's terminology service: ``:in``, ``:not-in``, ``:below``,
``:above`` over HTTP, and the 400 OperationOutcome when the node cannot list the codes."""

from __future__ import annotations

import httpx
import pytest
from fixtures import patient

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
OBSERVATION_STATUS = "http://hl7.org/fhir/observation-status"
CONDITION_CLINICAL_VS = "http://hl7.org/fhir/ValueSet/condition-clinical"
ALLERGY_CLINICAL_VS = "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical"


def _status(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


@pytest.fixture
def loaded(fhir: httpx.Client) -> httpx.Client:
    """Conditions (active > relapse; inactive > resolved), allergies and observations of one patient."""
    subject = {"reference": "Patient/anna"}
    resources = [
        {**patient(), "id": "anna"},
        *({"resourceType": "Condition", "id": code, "subject": subject, "clinicalStatus": _status(CLINICAL, code)}
          for code in ("active", "relapse", "resolved")),
        *({"resourceType": "AllergyIntolerance", "id": f"allergy-{code}", "patient": subject,
           "clinicalStatus": _status(ALLERGY_CLINICAL, code)} for code in ("active", "inactive")),
        *({"resourceType": "Observation", "id": f"obs-{status}", "status": status, "subject": subject,
           "code": {"text": "pulse"}} for status in ("final", "amended", "corrected")),
    ]
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
    ]
    response = fhir.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text
    return fhir


def _ids(fhir: httpx.Client, path: str, **params: str) -> set[str]:
    response = fhir.get(path, params=params)
    assert response.status_code == 200, response.text
    return {entry["resource"]["id"] for entry in response.json().get("entry", [])}


def test_in_and_not_in(loaded: httpx.Client) -> None:
    assert _ids(loaded, "Condition", **{"clinical-status:in": CONDITION_CLINICAL_VS}) == {
        "active", "relapse", "resolved"
    }
    assert _ids(loaded, "AllergyIntolerance", **{"clinical-status:in": ALLERGY_CLINICAL_VS}) == {
        "allergy-active", "allergy-inactive"
    }
    assert _ids(loaded, "AllergyIntolerance", **{"clinical-status:in": CONDITION_CLINICAL_VS}) == set()
    assert _ids(loaded, "AllergyIntolerance", **{"clinical-status:not-in": CONDITION_CLINICAL_VS}) == {
        "allergy-active", "allergy-inactive"
    }
    observation_status = "http://hl7.org/fhir/ValueSet/observation-status"
    assert _ids(loaded, "Observation", **{"status:in": observation_status}) == {
        "obs-final", "obs-amended", "obs-corrected"
    }


def test_below_and_above(loaded: httpx.Client) -> None:
    assert _ids(loaded, "Condition", **{"clinical-status:below": f"{CLINICAL}|active"}) == {"active", "relapse"}
    assert _ids(loaded, "Condition", **{"clinical-status:above": f"{CLINICAL}|relapse"}) == {"active", "relapse"}
    assert _ids(loaded, "Condition", **{"clinical-status:above": f"{CLINICAL}|resolved"}) == {"resolved"}
    amended = f"{OBSERVATION_STATUS}|amended"  # amended > corrected; Observation.status is a code, without system
    assert _ids(loaded, "Observation", **{"status:below": amended}) == {"obs-amended", "obs-corrected"}


def test_batch_entries_search_with_the_same_modifiers(loaded: httpx.Client) -> None:
    url = f"Condition?clinical-status:below={CLINICAL}|active"
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": url}}]}
    response = loaded.post("", json=batch)
    assert response.status_code == 200, response.text
    searchset = response.json()["entry"][0]["resource"]
    assert {entry["resource"]["id"] for entry in searchset["entry"]} == {"active", "relapse"}


@pytest.mark.parametrize(
    "path, name, value, code, words",
    [
        ("Condition", "code:below", "http://snomed.info/sct|22298006", "not-supported",
         ["SNOMED CT (http://snomed.info/sct) is not available on this node"]),
        ("Condition", "code:in", "http://hl7.org/fhir/ValueSet/clinical-findings", "not-supported",
         ["cannot be expanded", "SNOMED CT"]),
        ("Condition", "clinical-status:in", "http://example.org/fhir/ValueSet/unknown", "not-found",
         ["The value set http://example.org/fhir/ValueSet/unknown is not known to this node"]),
        ("Composition", "type:in", "http://hl7.org/fhir/ValueSet/c80-doc-typecodes", "too-costly",
         ["6401 codes", "more than the 1000"]),
        ("Condition", "clinical-status:below", "active", "invalid", ["system|code"]),
    ],
)
def test_what_cannot_be_listed_is_a_400_saying_why(
    fhir: httpx.Client, path: str, name: str, value: str, code: str, words: list[str]
) -> None:
    response = fhir.get(path, params={name: value})
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", code)
    assert all(word in issue["diagnostics"] for word in words), issue["diagnostics"]
