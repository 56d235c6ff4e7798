"""What an eOverdracht token may not do at the sender, and what the service refuses before anything is sent.

The receiver's token is bound to one Task: it reads that Task and what the Task refers to, and moves that Task's
status along the allowed transitions; every other read or write is refused, changes nothing, and is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from auth.orgs import get_token
from exchange.handover_network import (HOSPITAL, NURSING_HOME, OUTSIDER, Logged, Network, load, logged, mark,
                                       network)

from samen.exchange.handover_remote import HandoverError
from samen.fhir.model import Model

RECEIVER_SCOPES = "system/*.r system/Task.u"


def token(net: Network, ura: str, task: str) -> str:
    """A receiver's token at the hospital, bound to ``task``, for a nurse of ``ura``."""
    return get_token(net.hospital.settings.base_url, net.orgs[ura], scopes=RECEIVER_SCOPES,
                     purpose="eoverdracht-receiver", task=task, professional=net.attestation(ura))


def call(net: Network, method: str, path: str, bearer: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.request(method, f"{net.hospital.settings.base_url}/{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/fhir+json"})


def stored_task(net: Network, task_id: str) -> dict[str, Any]:
    with net.hospital.store.session(write=False) as session:
        stored = session.read("Task", task_id)
        assert stored is not None
        return stored.json()


def test_a_task_bound_token_reads_and_moves_its_own_task_only(tmp_path: Path, database_url: str,
                                                              model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sender = net.service(net.hospital)
        first = sender.send(patient_id="p1", receiver_ura=NURSING_HOME, resources=["Condition/c1"], note="",
                            attestation=net.attestation(HOSPITAL))
        second = sender.send(patient_id="p2", receiver_ura=NURSING_HOME, resources=["Condition/c2"], note="",
                             attestation=net.attestation(HOSPITAL))
        before = stored_task(net, first.id)
        own, outsider = token(net, NURSING_HOME, first.id), token(net, OUTSIDER, first.id)
        at = mark(net.hospital)

        assert call(net, "GET", f"Task/{first.id}", own).status_code == 200
        refused = [
            call(net, "GET", f"Task/{second.id}", own),  # another Task
            call(net, "PUT", f"Task/{second.id}", own, stored_task(net, second.id) | {"status": "received"}),
            call(net, "GET", "Condition/c2", own),  # not referred to by the bound Task
            call(net, "PUT", "Condition/c1", own, {"resourceType": "Condition", "id": "c1",
                                                   "subject": {"reference": "Patient/p1"}}),  # not the Task
            call(net, "GET", "Task", own),  # a search: never with a Task-bound token
            call(net, "GET", f"Task/{first.id}", outsider),  # the Task is not addressed to the outsider
            call(net, "PUT", f"Task/{first.id}", outsider, before | {"status": "received"}),
            call(net, "PUT", f"Task/{first.id}", own, before | {"status": "received", "note": [{"text": "x"}]}),
            call(net, "PUT", f"Task/{first.id}", own, before | {"status": "received",
                                                                "owner": before["requester"]}),
            call(net, "DELETE", f"Task/{first.id}", own),
        ]
        assert [answer.status_code for answer in refused] == [403] * len(refused)
        assert all(answer.json()["resourceType"] == "OperationOutcome" for answer in refused)
        jump = call(net, "PUT", f"Task/{first.id}", own, before | {"status": "completed"})
        assert jump.status_code == 409 and "cannot move" in jump.text
        assert stored_task(net, first.id) == before  # nothing changed
        assert stored_task(net, second.id)["status"] == "requested"

        outcomes = [(entry.who, entry.outcome) for entry in logged(net.hospital, at)]
        refusal, failure = "8", "4"  # AuditEvent.outcome: serious failure (refused), minor failure (409)
        assert outcomes == [(NURSING_HOME, "0"), *[(NURSING_HOME, refusal)] * 5, *[(OUTSIDER, refusal)] * 2,
                            *[(NURSING_HOME, refusal)] * 3, (NURSING_HOME, failure)]  # each on the trail


def test_the_receiver_moves_the_status_one_allowed_step_at_a_time(tmp_path: Path, database_url: str,
                                                                 model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sent = net.service(net.hospital).send(patient_id="p1", receiver_ura=NURSING_HOME, resources=[], note="",
                                              attestation=net.attestation(HOSPITAL))
        own = token(net, NURSING_HOME, sent.id)
        for status, answer in (("accepted", 409), ("received", 200), ("in-progress", 409), ("received", 200),
                               ("accepted", 200), ("completed", 409), ("rejected", 409), ("in-progress", 200),
                               ("accepted", 409), ("completed", 200), ("in-progress", 409), ("completed", 409)):
            current = stored_task(net, sent.id)
            moved = call(net, "PUT", f"Task/{sent.id}", own, current | {"status": status})
            assert moved.status_code == answer, (current["status"], status, moved.text)
            assert stored_task(net, sent.id)["status"] == (status if answer == 200 else current["status"])


def test_a_receiver_token_needs_a_task_and_a_professional(tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sent = net.service(net.hospital).send(patient_id="p1", receiver_ura=NURSING_HOME, resources=[], note="",
                                              attestation=net.attestation(HOSPITAL))
        base = net.hospital.settings.base_url
        unbound = get_token(base, net.orgs[NURSING_HOME], scopes=RECEIVER_SCOPES, purpose="eoverdracht-receiver",
                            professional=net.attestation(NURSING_HOME))
        assert call(net, "GET", f"Task/{sent.id}", unbound).status_code == 403
        anonymous = get_token(base, net.orgs[NURSING_HOME], scopes=RECEIVER_SCOPES, purpose="eoverdracht-receiver",
                              task=sent.id)  # issued (the attestation is optional there), refused at the data
        assert call(net, "GET", f"Task/{sent.id}", anonymous).status_code == 403
        reader = get_token(base, net.orgs[NURSING_HOME], scopes="system/*.r", purpose="eoverdracht-receiver",
                           task=sent.id, professional=net.attestation(NURSING_HOME))
        current = stored_task(net, sent.id)  # the scopes must name the update too
        assert call(net, "PUT", f"Task/{sent.id}", reader, current | {"status": "received"}).status_code == 403
        assert stored_task(net, sent.id) == current
        manager = token_with_role(net, "01.015")  # a physician may; an administrative role may not
        assert call(net, "GET", f"Task/{sent.id}", manager).status_code == 200
        clerk = token_with_role(net, "99.999", task=sent.id)
        assert call(net, "GET", f"Task/{sent.id}", clerk).status_code == 403


def token_with_role(net: Network, role: str, task: str | None = None) -> str:
    task = task or net.service(net.hospital).outgoing()[0].id
    return get_token(net.hospital.settings.base_url, net.orgs[NURSING_HOME], scopes=RECEIVER_SCOPES,
                     purpose="eoverdracht-receiver", task=task, professional=net.attestation(NURSING_HOME, role))


def test_the_service_refuses_before_anything_is_sent(tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sender, receiver = net.service(net.hospital), net.service(net.nursing_home)
        attestation = net.attestation(HOSPITAL)
        with pytest.raises(HandoverError) as unknown:  # not in the query directory
            sender.send(patient_id="p1", receiver_ura=OUTSIDER, resources=[], note="", attestation=attestation)
        assert unknown.value.status == 404
        with pytest.raises(HandoverError) as foreign:  # another patient's data
            sender.send(patient_id="p1", receiver_ura=NURSING_HOME, resources=["Condition/c2"], note="",
                        attestation=attestation)
        assert foreign.value.status == 422
        with pytest.raises(HandoverError) as missing:
            sender.send(patient_id="nobody", receiver_ura=NURSING_HOME, resources=[], note="", attestation=attestation)
        assert missing.value.status == 404
        assert sender.outgoing() == [] and receiver.incoming() == []

        at_home = mark(net.nursing_home)  # a notification that points elsewhere than its sender's endpoint
        load(net.nursing_home, [{
            "resourceType": "Task", "id": "lure", "status": "requested", "intent": "order",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]},
            "basedOn": [{"reference": "http://127.0.0.1:9/fhir/Task/1"}],
            "requester": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": HOSPITAL}},
            "owner": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": NURSING_HOME}}}])
        with pytest.raises(HandoverError) as lured:
            receiver.pull("lure", attestation=net.attestation(NURSING_HOME))
        assert lured.value.status == 422 and "outside the FHIR endpoint" in lured.value.message
        assert logged(net.nursing_home, at_home) == [Logged("operator", "PUT Task/lure", "0")]  # nothing more
