"""The registry takes only what it can compile exactly: a Consent that says more than a catalogue choice is 422.

A nested exception, a time window, a purpose, an action, a named organisation, a modifier extension or
a policyRule that contradicts the provision would each be dropped by the compiled table, which would
then permit more than the citizen chose. Such a write is refused and changes nothing; the closed question
still answers as before.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import httpx
from auth.orgs import TEST_BSN, get_token
from registry_nodes import Registry, answer, consent, question, served_registry

from samen.auth.policy import CONSENT_CHECK
from samen.fhir.model import Model


@pytest.fixture
def registry(database_url: str, model: Model, tmp_path: Path):
    with served_registry(database_url, model, tmp_path) as served:
        yield served


def _narrowed(change: str) -> dict[str, Any]:
    """A yes for huisarts (all data, every requester) that the citizen narrowed in a way the catalogue cannot say."""
    body = consent(TEST_BSN, "huisarts", True)
    provision = body["provision"]
    match change:
        case "nested exception":
            provision["provision"] = [{"type": "deny", "code": [{"coding": [
                {"system": "http://samen.nl/fhir/CodeSystem/consent-data-category", "code": "medicatiegegevens"}]}]}]
        case "time window":
            provision["period"] = {"start": "2020-01-01", "end": "2020-12-31"}
        case "purpose":
            provision["purpose"] = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "ETREAT"}]
        case "action":
            provision["action"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                                                "code": "access"}]}]
        case "data":
            provision["data"] = [{"meaning": "instance", "reference": {"reference": "Condition/1"}}]
        case "named organisation":
            provision["actor"][0]["reference"]["reference"] = "Organization/one-practice"
        case "modifier extension":
            body["modifierExtension"] = [{"url": "http://example.org/only-on-weekdays", "valueBoolean": True}]
        case "contradicting policyRule":
            body["policyRule"]["coding"][0]["code"] = "OPTOUT"
    return body


@pytest.mark.parametrize("change", ["nested exception", "time window", "purpose", "action", "data",
                                    "named organisation", "modifier extension", "contradicting policyRule"])
def test_a_consent_that_says_more_than_a_choice_is_refused_and_changes_nothing(registry: Registry,
                                                                              change: str) -> None:
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        refused = pgo.post("Consent", json=_narrowed(change))
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert pgo.get("Consent").json().get("entry", []) == []
        kept = pgo.post("Consent", json=consent(TEST_BSN, "huisarts", False)).json()
        changed = copy.deepcopy(_narrowed(change))
        changed["id"] = kept["id"]
        assert pgo.put(f"Consent/{kept['id']}", json=changed).status_code == 422, change
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        decided = answer(gp.post("$consent-check", json=question(TEST_BSN, "huisarts", "behandelgegevens", "apotheek")))
    assert decided["decision"] == "deny" and decided["consent"] == f"Consent/{kept['id']}"


def test_care_providers_cannot_read_citizens_choices_at_the_registry(database_url: str, model: Model,
                                                                     tmp_path: Path) -> None:
    """A holder learns a yes or no for one question, never the list of choices (which would tell, e.g., of GGZ)."""
    from holder_network import network

    from samen.auth import policy as p

    with network(database_url, model, tmp_path, {"V4"}) as net:
        consent_id = net.choose(TEST_BSN, "ggz", permit=False)
        hospital = net.requester("V4")
        base = net.registry.settings.base_url
        for purpose in (p.BGZ, p.ACUTE_CARE):
            reason = "Bewusteloos binnengebracht op de SEH"
            extra = {"break_the_glass_reason": reason} if purpose == p.ACUTE_CARE else {}
            token = get_token(base, hospital, scopes="system/*.rs", purpose=purpose, patient=TEST_BSN,
                              professional=net.dezi.attestation(hospital), **extra)
            headers = {"Authorization": f"Bearer {token}"}
            for path in ("Consent", f"Consent/{consent_id}", f"Consent?category=http://loinc.org|59284-0"):
                answer = httpx.get(f"{base}/{path}", headers=headers, timeout=30)
                assert answer.status_code == 403, (purpose, path, answer.text)
                assert "ggz" not in answer.text


def test_the_registry_serves_no_care_exchange(database_url: str, model: Model, tmp_path: Path) -> None:
    """A BgZ or medication token bound to a person must not learn at the registry that they recorded choices."""
    from holder_network import network

    from samen.auth import policy as p
    from samen.sample import BSN

    with network(database_url, model, tmp_path, {"V4", "J8"}) as net:
        assert {rule.name for rule in net.registry.router.enforcer.policy.rules} == {
            "consent-check", "consent-subscription", "consent-self-service", "patient-self-access",
            "administration", "operator", "open-mode", "shared-operations"}
        consent_id = net.choose(TEST_BSN, "huisarts", permit=True)
        patient_id = net._read(f"Consent/{consent_id}")["patient"]["reference"].removeprefix("Patient/")
        base = net.registry.settings.base_url
        for purpose, requester, role in ((p.BGZ, "V4", "01.015"), (p.MEDICATION, "J8", "17.075")):
            organisation = net.requester(requester)
            token = get_token(base, organisation, scopes="system/*.rs", purpose=purpose, patient=TEST_BSN,
                              professional=net.dezi.attestation(organisation, role=role))
            headers = {"Authorization": f"Bearer {token}"}
            for path in (f"Patient/{patient_id}", f"Patient?identifier={BSN}|{TEST_BSN}", "Patient",
                         f"Consent/{consent_id}", "Consent", f"Patient/{patient_id}/Consent"):
                answer = httpx.get(f"{base}/{path}", headers=headers, timeout=30)
                assert answer.status_code == 403, (purpose, path, answer.text)
                assert answer.json()["resourceType"] == "OperationOutcome"
                assert patient_id not in answer.text and consent_id not in answer.text


def test_a_transaction_of_choices_is_compiled_whole_or_not_at_all(registry: Registry) -> None:
    from registry_nodes import OTHER_BSN

    mine = consent(TEST_BSN, "huisarts", True)
    ask = question(TEST_BSN, "huisarts", "behandelgegevens", "apotheek")
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        for spoiler in (consent(OTHER_BSN, "huisarts", True), _narrowed("nested exception")):
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
                {"request": {"method": "POST", "url": "Consent"}, "resource": mine},
                {"request": {"method": "POST", "url": "Consent"}, "resource": spoiler}]}
            refused = pgo.post("", json=bundle)
            assert refused.status_code in (403, 422), refused.text
            assert refused.json()["resourceType"] == "OperationOutcome"
            assert pgo.get("Consent").json().get("entry", []) == []
        with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
            assert answer(gp.post("$consent-check", json=ask))["decision"] == "deny"
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "POST", "url": "Consent"}, "resource": mine}]}
        assert pgo.post("", json=bundle).status_code == 200
    with registry.client(registry.token(registry.gp, CONSENT_CHECK)) as gp:
        assert answer(gp.post("$consent-check", json=ask))["decision"] == "permit"


@pytest.mark.parametrize("element", ["provision.code", "provision.actor.reference.identifier.value",
                                     "provision.actor.reference", "provision.actor.role"])
@pytest.mark.parametrize("value", [{"coding": []}, ["huisarts"], 7, {"value": "huisarts"}])
def test_a_malformed_choice_is_a_4xx_never_a_500(registry: Registry, element: str, value: Any) -> None:
    body = consent(TEST_BSN, "huisarts", True, "behandelgegevens")
    target: Any = body
    *path, last = element.split(".")
    for name in path:
        target = target[name][0] if name == "actor" else target[name]
    target[last] = value
    with registry.client(registry.patient_token(TEST_BSN)) as pgo:
        refused = pgo.post("Consent", json=body)
        assert 400 <= refused.status_code < 500, (element, value, refused.text)
        assert refused.json()["resourceType"] == "OperationOutcome"
        assert pgo.get("Consent").json().get("entry", []) == []
