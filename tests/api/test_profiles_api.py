"""A node with the Nictiz zib2020 packages: nl-core profiles are enforced on writes and named in $validate."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import served_node

from samen.fhir.model import Model
from samen.fhir.xml import parse_resource

NL_CORE = "http://nictiz.nl/fhir/StructureDefinition/"
XML = "application/fhir+xml"


def _example(nictiz_dir: Path, name: str) -> bytes:
    return (nictiz_dir / "examples" / f"{name}.xml").read_bytes()


def _errors(response: httpx.Response, status: int) -> list[dict]:
    assert response.status_code == status, response.text
    return [issue for issue in response.json()["issue"] if issue["severity"] == "error"]


@pytest.fixture
def nl_core(database_url: str, model: Model, nictiz_dir: Path) -> Iterator[httpx.Client]:
    packages = (nictiz_dir / "zib", nictiz_dir / "nl-core")
    with served_node(database_url, model, packages=packages) as node:
        with httpx.Client(base_url=node.settings.base_url + "/", headers={"Accept": "application/fhir+json"}) as client:
            yield client


def test_a_conformant_nl_core_instance_is_stored(nl_core: httpx.Client, nictiz_dir: Path) -> None:
    body = _example(nictiz_dir, "nl-core-BloodPressure-01")
    response = nl_core.post("Observation", content=body, headers={"Content-Type": XML})
    assert response.status_code == 201, response.text
    assert response.json()["meta"]["profile"] == [NL_CORE + "nl-core-BloodPressure"]


def test_an_instance_breaking_its_declared_profile_is_refused(
    nl_core: httpx.Client, nictiz_dir: Path, model: Model
) -> None:
    pressure = parse_resource(_example(nictiz_dir, "nl-core-BloodPressure-01"), model)
    broken = copy.deepcopy(pressure)
    broken["code"]["coding"][0]["code"] = "8867-4"  # heart rate, where the profile fixes the BP panel code
    errors = _errors(nl_core.post("Observation", json=broken), 422)
    assert any(e["expression"][0].startswith("Observation.code") for e in errors), errors
    assert nl_core.get("Observation", params={"_summary": "count"}).json()["total"] == 0


def test_validate_against_a_named_nl_core_profile(nl_core: httpx.Client) -> None:
    plain = {"resourceType": "Observation", "status": "final", "code": {"text": "bloeddruk"}}
    profile = NL_CORE + "nl-core-BloodPressure"
    errors = _errors(nl_core.post("Observation/$validate", params={"profile": profile}, json=plain), 200)
    assert errors and any(e["code"] in ("required", "structure", "value", "invariant") for e in errors)
    assert not _errors(nl_core.post("Observation/$validate", json=plain), 200)  # fine as plain R4


def test_required_profiles_apply_to_resources_that_do_not_claim_them(
    database_url: str, model: Model, nictiz_dir: Path
) -> None:
    packages = (nictiz_dir / "zib", nictiz_dir / "nl-core")
    required = (("Observation", NL_CORE + "nl-core-BodyWeight"),)
    with served_node(database_url, model, packages=packages, required_profiles=required) as node:
        with httpx.Client(base_url=node.settings.base_url + "/") as client:
            weight = client.post("Observation", content=_example(nictiz_dir, "nl-core-BodyWeight-01"),
                                 headers={"Content-Type": XML, "Accept": "application/fhir+json"})
            assert weight.status_code == 201, weight.text
            plain = {"resourceType": "Observation", "status": "final", "code": {"text": "gewicht"}}
            assert _errors(client.post("Observation", json=plain), 422)
            assert client.post("Patient", json={"resourceType": "Patient"}).status_code == 201  # other types: base only
