"""The CapabilityStatement describes what is really there."""

from __future__ import annotations

import httpx


def test_metadata_lists_all_r4_types_with_their_search_parameters(fhir: httpx.Client) -> None:
    statement = fhir.get("metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert len(resources) == 146
    observation_params = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"code", "subject", "patient", "date", "value-quantity", "code-value-quantity", "_lastUpdated"} <= observation_params
    interactions = {i["code"] for i in resources["Patient"]["interaction"]}
    assert {"read", "vread", "update", "patch", "delete", "create", "search-type", "history-instance"} <= interactions


def test_every_advertised_search_parameter_is_accepted_in_strict_mode(fhir: httpx.Client) -> None:
    statement = fhir.get("metadata").json()
    patient = [r for r in statement["rest"][0]["resource"] if r["type"] == "Patient"][0]
    for param in patient["searchParam"]:
        if param["type"] in ("string", "token", "uri") and param["name"] != "_id":  # every resource has an id
            response = fhir.get("Patient", params={param["name"] + ":missing": "true"}, headers={"Prefer": "handling=strict"})
            assert response.status_code == 200, (param, response.text)
