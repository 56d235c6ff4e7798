"""A citizen's PGO at the registry: records, changes and withdraws their own choices, sees the history, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth.orgs import TEST_BSN
from registry_nodes import OTHER_BSN, Registry, consent, served_registry

from samen.auth.policy import CONSENT_CHECK
from samen.fhir.model import Model


@pytest.fixture
def registry(database_url: str, model: Model, tmp_path: Path):
    with served_registry(database_url, model, tmp_path) as served:
        yield served


def test_a_citizen_records_changes_and_withdraws_and_sees_the_history(registry: Registry) -> None:
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        created = pgo.post("Consent", json=consent(TEST_BSN, "apotheek", True, "medicatiegegevens"))
        assert created.status_code == 201, created.text
        stored = created.json()
        assert stored["patient"]["reference"].startswith("Patient/")  # the registry's Patient for the BSN
        no = {**stored, "provision": {**stored["provision"], "type": "deny"},
              "policyRule": {"coding": [{**stored["policyRule"]["coding"][0], "code": "OPTOUT"}]}}
        changed = pgo.put(f"Consent/{stored['id']}", json=no)
        assert changed.status_code == 200, changed.text
        withdrawn = pgo.put(f"Consent/{stored['id']}", json={**changed.json(), "status": "inactive"})
        assert withdrawn.status_code == 200
        history = pgo.get(f"Consent/{stored['id']}/_history")
        assert history.status_code == 200, history.text
        versions = [(e["resource"]["status"], e["resource"]["provision"]["type"]) for e in history.json()["entry"]]
        assert versions == [("inactive", "deny"), ("active", "deny"), ("active", "permit")]
        second = pgo.post("Consent", json=consent(TEST_BSN, "huisarts", False))
        assert second.status_code == 201
        mine = pgo.get("Consent", params={"_sort": "-_lastUpdated"})
        assert mine.status_code == 200, mine.text
        assert [e["resource"]["id"] for e in mine.json()["entry"]] == [second.json()["id"], stored["id"]]


def test_a_citizen_cannot_read_or_write_another_citizens_choices(registry: Registry) -> None:
    with registry.client(registry.patient_token(OTHER_BSN)) as other:
        theirs = other.post("Consent", json=consent(OTHER_BSN, "huisarts", True)).json()
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        assert pgo.post("Consent", json=consent(OTHER_BSN, "huisarts", False)).status_code == 403
        assert pgo.get(f"Consent/{theirs['id']}").status_code == 403
        assert pgo.get(f"Consent/{theirs['id']}/_history").status_code == 403
        assert pgo.put(f"Consent/{theirs['id']}", json={**theirs, "status": "inactive"}).status_code == 403
        assert pgo.put(f"Consent/{theirs['id']}",
                       json={**consent(TEST_BSN, "huisarts", True), "id": theirs["id"]}).status_code == 403
        assert pgo.delete(f"Consent/{theirs['id']}").status_code == 403
        assert pgo.get("Consent", params={"patient": theirs["patient"]["reference"]}).status_code == 403
        mine = pgo.get("Consent")
        assert mine.status_code == 200 and mine.json().get("entry", []) == []
        assert pgo.post("Patient", json={"resourceType": "Patient"}).status_code == 403  # only Consent
    with registry.client(registry.patient_token(OTHER_BSN)) as other:
        assert other.get(f"Consent/{theirs['id']}").json()["status"] == "active"  # unchanged


def test_only_catalogue_choices_are_recorded(registry: Registry) -> None:
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        unknown_holder = consent(TEST_BSN, "kapper", True)
        response = pgo.post("Consent", json=unknown_holder)
        assert response.status_code == 422
        assert response.json()["issue"][0]["expression"] == ["Consent.provision.actor.reference.identifier"]
        no_holder = consent(TEST_BSN, "huisarts", True)
        no_holder["provision"]["actor"] = []
        assert pgo.post("Consent", json=no_holder).status_code == 422
        no_type = consent(TEST_BSN, "huisarts", True)
        del no_type["provision"]["type"]
        assert pgo.post("Consent", json=no_type).status_code == 422
        assert pgo.get("Consent").json().get("entry", []) == []


def test_a_data_holder_cannot_write_choices(registry: Registry) -> None:
    with registry.client(registry.token(registry.gp, CONSENT_CHECK, "system/Consent.cruds")) as gp:
        assert gp.post("Consent", json=consent(TEST_BSN, "huisarts", True)).status_code == 403
        assert gp.get("Consent").status_code == 403
