"""Review of the eOverdracht receiver's status update: what the receiver writes into the Task never widens what
its Task-bound token may read at the sender (only what the sender referred to counts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange.handover_network import HOSPITAL, NURSING_HOME, logged, mark, network
from exchange.test_handover_refusals import call, stored_task, token

from samen.fhir.model import Model

WIDENINGS = {
    "output": {"output": [{"type": {"text": "verslag"}, "valueReference": {"reference": "Condition/c2"}}]},
    "statusReason": {"statusReason": {"text": "ontvangen", "extension": [
        {"url": "http://example.org/x", "valueReference": {"reference": "Condition/c2"}}]}},
}


@pytest.mark.parametrize("element", sorted(WIDENINGS))
def test_the_receiver_cannot_widen_its_task_scope_by_what_it_writes(tmp_path: Path, database_url: str,
                                                                    model: Model, element: str) -> None:
    with network(tmp_path, database_url, model) as net:
        sent = net.service(net.hospital).send(patient_id="p1", receiver_ura=NURSING_HOME,
                                              resources=["Condition/c1"], note="",
                                              attestation=net.attestation(HOSPITAL))
        own = token(net, NURSING_HOME, sent.id)
        moved = call(net, "PUT", f"Task/{sent.id}", own,
                     stored_task(net, sent.id) | {"status": "received"} | WIDENINGS[element])
        assert moved.status_code == 200, moved.text  # the receiver may write these elements
        at = mark(net.hospital)
        other_patients = call(net, "GET", "Condition/c2", own)  # Condition of Patient/p2, never handed over
        assert other_patients.status_code == 403, other_patients.text
        assert [entry.outcome for entry in logged(net.hospital, at)] == ["8"]  # the refusal is audited
        assert call(net, "GET", "Condition/c1", own).status_code == 200  # what the sender referred to still is
