"""Consent at the data holder cannot be walked around: every way a request reads a person's data asks for it.

A GP practice holds a Patient, an Encounter, a Condition and a MedicationRequest of one person. The
person said yes to medication data for pharmacies and to treatment data for hospitals, nothing else.
Searches that read data of another category than the one asked about (a ``_has`` on MedicationRequest
inside a chain on the patient) ask that category too; a chain into a type the exchange does not cover (an
Encounter in a medication transfer) is refused by the policy before consent is asked; the Patient
resource itself (demographics, and the fact that the person is a patient here) is released only when
the person permits the requester some category of data from this holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from holder_network import Network, network

from samen.api.messages import FhirRequest
from samen.auth import policy as p
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.fhir.model import Model
from samen.sample import BSN
from samen.synth.bsn import synthetic_bsn

pytest.importorskip("samen.consent.registry")

PERSON, STRANGER = synthetic_bsn(5, 1), synthetic_bsn(5, 2)  # said yes to some; said nothing
GP = "huisarts"


def _put(net: Network, resource: dict[str, object]) -> None:
    node = net.holders[GP][1]
    path = f"{resource['resourceType']}/{resource['id']}"
    answer = node.router.handle(FhirRequest("PUT", path, body=resource, base_url=node.settings.base_url,
                                            access=OPERATOR_CONTEXT))
    assert answer.status in (200, 201), answer.payload()


@pytest.fixture
def net(database_url: str, model: Model, tmp_path: Path) -> Iterator[Network]:
    with network(database_url, model, tmp_path, {"J8", "V4"}) as built:
        for pid, bsn in (("p1", PERSON), ("p2", STRANGER)):
            _put(built, {"resourceType": "Patient", "id": pid, "identifier": [{"system": BSN, "value": bsn}]})
        _put(built, {"resourceType": "Encounter", "id": "e1", "status": "finished",
                     "subject": {"reference": "Patient/p1"},
                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                     "reasonCode": [{"text": "hiv"}]})
        _put(built, {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "86406008"}]}})
        _put(built, {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
                     "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
                     "medicationCodeableConcept": {"coding": [{"system": "urn:test", "code": "ARV"}]}})
        built.choose(PERSON, GP, "medicatiegegevens", "apotheek", permit=True)
        built.choose(PERSON, GP, "behandelgegevens", "ziekenhuis", permit=True)
        yield built


def _refused_for(net: Network, token: str, path: str, category: str) -> None:
    answer = net.get(GP, path, token)
    assert answer.status_code == 403, (path, answer.text)
    diagnostics = answer.json()["issue"][0]["diagnostics"]
    assert "consent" in diagnostics and category in diagnostics, (path, diagnostics)


def test_a_chain_into_a_type_outside_the_exchange_is_refused_by_the_policy(net: Network) -> None:
    """Medication transfer does not cover the Encounter: a chain into it is refused before consent is asked."""
    pharmacy = net.token(GP, net.requester("J8"), p.MEDICATION, bsn=PERSON, role="17.000")
    assert net.get(GP, "MedicationRequest", pharmacy).status_code == 200  # medication data: a yes
    for text in ("hiv", "something else"):  # found or not: the Encounter's content is not released
        for chain in ("encounter", "encounter:Encounter"):
            answer = net.get(GP, f"MedicationRequest?{chain}.reason-code:text={text}", pharmacy)
            assert answer.status_code == 403, answer.text
            assert "does not allow a chain into Encounter" in answer.json()["issue"][0]["diagnostics"]
            assert "m1" not in answer.text


def test_a_has_inside_a_chain_on_the_patient_asks_the_category_it_reads(net: Network) -> None:
    hospital = net.token(GP, net.requester("V4"), p.BGZ, bsn=PERSON)
    assert net.get(GP, "Condition", hospital).status_code == 200  # treatment data: a yes
    for code in ("ARV", "NONE"):  # whether the patient has such a prescription is medication data
        for chain in ("subject", "patient", "subject:Patient"):
            _refused_for(net, hospital, f"Condition?{chain}._has:MedicationRequest:subject:code={code}",
                         "medicatiegegevens")


def test_the_patient_record_is_released_only_with_a_yes_for_some_category(net: Network) -> None:
    hospital = net.token(GP, net.requester("V4"), p.BGZ, bsn=STRANGER)
    for path in ("Patient", "Patient/p2", f"Patient?identifier={BSN}|{STRANGER}", "Patient/p2/_history/1"):
        answer = net.get(GP, path, hospital)
        assert answer.status_code == 403, (path, answer.text)
        assert "consent" in answer.json()["issue"][0]["diagnostics"]
        assert STRANGER not in answer.text
    pharmacy = net.token(GP, net.requester("J8"), p.MEDICATION, bsn=PERSON, role="17.000")
    found = net.get(GP, "Patient", pharmacy)
    assert found.status_code == 200 and [e["resource"]["id"] for e in found.json()["entry"]] == ["p1"]
    assert net.get(GP, "Patient/p1", net.token(GP, net.requester("V4"), p.BGZ, bsn=PERSON)).status_code == 200
