"""The closed question at a served registry, with real tokens: permit only on a recorded yes that covers it."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth.orgs import TEST_BSN
from registry_nodes import OTHER_BSN, Registry, answer, consent, question, served_registry

from samen.auth.policy import CONSENT_CHECK, CONSENT_SUBSCRIPTION
from samen.fhir.model import Model


@pytest.fixture
def registry(database_url: str, model: Model, tmp_path: Path):
    with served_registry(database_url, model, tmp_path) as served:
        yield served


def _record(registry: Registry, bsn: str, body: dict) -> str:
    with registry.client(registry.patient_token(bsn)) as pgo:
        created = pgo.post("Consent", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_permit_with_a_recorded_yes_and_deny_without_any_choice(registry: Registry) -> None:
    consent_id = _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", True, "behandelgegevens", "ziekenhuis"))
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        permitted = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "behandelgegevens",
                                                                  "ziekenhuis", holder=registry.gp.ura)))
        assert permitted["decision"] == "permit"
        assert permitted["consent"] == f"Consent/{consent_id}"
        assert "yes for huisarts × behandelgegevens × ziekenhuis" in permitted["rule"]
        other_requester = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "behandelgegevens",
                                                                        "apotheek")))
        assert other_requester["decision"] == "deny"
        assert other_requester["rule"] == "no choice recorded: deny by default"
        assert "consent" not in other_requester
        nobody = answer(gp.post("$consent-check", json=question(OTHER_BSN, "huisarts", "behandelgegevens",
                                                               "ziekenhuis")))
        assert nobody["decision"] == "deny"


def test_a_specific_no_beats_a_general_yes(registry: Registry) -> None:
    _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", True))  # yes: all data, every requester
    no_id = _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", False, "medicatiegegevens"))
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        general = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "behandelgegevens", "vvt")))
        specific = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "medicatiegegevens", "vvt")))
    assert general["decision"] == "permit"
    assert "yes for huisarts × * × *" in general["rule"]
    assert specific == {"decision": "deny", "consent": f"Consent/{no_id}",
                        "rule": f"choice Consent/{no_id}: no for huisarts × medicatiegegevens × *"}


def test_at_equal_specificity_a_no_beats_a_yes(registry: Registry) -> None:
    yes_id = _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", True, "medicatiegegevens"))
    no_id = _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", False, None, "ziekenhuis"))
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        both = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "medicatiegegevens",
                                                             "ziekenhuis")))
        only_yes = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "medicatiegegevens",
                                                                 "apotheek")))
    assert both["decision"] == "deny" and both["consent"] == f"Consent/{no_id}"
    assert only_yes["decision"] == "permit" and only_yes["consent"] == f"Consent/{yes_id}"


def test_of_two_choices_for_the_same_combination_the_newest_counts(registry: Registry) -> None:
    _record(registry, TEST_BSN, consent(TEST_BSN, "huisarts", True, "medicatiegegevens", "apotheek"))
    later = consent(TEST_BSN, "huisarts", False, "medicatiegegevens", "apotheek")
    later_id = _record(registry, TEST_BSN, later)
    ask = question(TEST_BSN, "huisarts", "medicatiegegevens", "apotheek")
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp, \
            registry.client(registry.patient_token(TEST_BSN)) as pgo:
        assert answer(gp.post("$consent-check", json=ask))["consent"] == f"Consent/{later_id}"
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "deny"
        assert pgo.put(f"Consent/{later_id}", json={**later, "id": later_id, "status": "inactive"}).status_code == 200
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "permit"  # the older yes counts again


def test_withdrawal_and_a_change_take_effect_on_the_next_question(registry: Registry) -> None:
    body = consent(TEST_BSN, "huisarts", True, "behandelgegevens", "ziekenhuis")
    consent_id = _record(registry, TEST_BSN, body)
    ask = question(TEST_BSN, "huisarts", "behandelgegevens", "ziekenhuis")
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp, \
            registry.client(registry.patient_token(TEST_BSN)) as pgo:
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "permit"
        withdrawn = pgo.put(f"Consent/{consent_id}", json={**body, "id": consent_id, "status": "inactive"})
        assert withdrawn.status_code == 200, withdrawn.text
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "deny"
        renewed = pgo.put(f"Consent/{consent_id}", json={**body, "id": consent_id})
        assert renewed.status_code == 200
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "permit"
        assert pgo.delete(f"Consent/{consent_id}").status_code in (200, 204)
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "deny"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: {"resourceType": "Bundle"}, "Send a Parameters resource"),
        (lambda q: {**q, "parameter": q["parameter"][1:]}, "Missing parameter(s): patient"),
        (lambda q: {**q, "parameter": [*q["parameter"], {"name": "colour", "valueCode": "red"}]}, "Unknown parameter"),
        (lambda q: {**q, "parameter": [{"name": "patient", "valueIdentifier": {"system": "urn:x", "value": "1"}},
                                       *q["parameter"][1:]]}, "valueIdentifier with system"),
        (lambda q: {**q, "parameter": [{"name": "patient", "valueIdentifier": {"system": q["parameter"][0][
            "valueIdentifier"]["system"], "value": "123456789"}}, *q["parameter"][1:]]}, "not a valid BSN"),
        (lambda q: {**q, "parameter": [q["parameter"][0], q["parameter"][1],
                                       {"name": "data-category", "valueCode": "röntgen"}, *q["parameter"][3:]]},
         "is not a code of"),
        (lambda q: {**q, "parameter": [*q["parameter"], q["parameter"][0]]}, "more than once"),
        (lambda q: {**q, "parameter": [{"name": ["patient"]}, *q["parameter"]]}, "Unknown parameter"),
        (lambda q: {**q, "parameter": [{"name": {"patient": 1}}, *q["parameter"]]}, "Unknown parameter"),
    ],
)
def test_bad_parameters_are_a_400(registry: Registry, change, message: str) -> None:
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        response = gp.post("$consent-check", json=change(question(TEST_BSN, "huisarts", "behandelgegevens", "ggz")))
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert message in response.json()["issue"][0]["diagnostics"]


def test_refusals_of_the_closed_question(registry: Registry) -> None:
    ask = question(TEST_BSN, "huisarts", "behandelgegevens", "ziekenhuis")
    with registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, "system/Subscription.crus")) as other:
        assert other.post("$consent-check", json=ask).status_code == 403  # no purpose consent-check
    with registry.client(registry.token(registry.hospital, CONSENT_CHECK)) as hospital:
        assert hospital.post("$consent-check", json=ask).status_code == 403  # asks about a huisarts' release
        assert hospital.post("$consent-check", json=question(
            TEST_BSN, "ziekenhuis", "behandelgegevens", "huisarts", holder=registry.gp.ura)).status_code == 403
        assert answer(hospital.post("$consent-check", json=question(
            TEST_BSN, "ziekenhuis", "behandelgegevens", "huisarts")))["decision"] == "deny"
    with registry.client(registry.token(registry.insurer, CONSENT_CHECK)) as insurer:
        assert insurer.post("$consent-check", json=ask).status_code == 403  # no care provider
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        assert pgo.post("$consent-check", json=ask).status_code == 403
