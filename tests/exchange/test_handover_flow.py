"""eOverdracht end to end over loopback: a hospital hands over to a nursing home and a nursing home to a hospital;
the Task's whole status path, a rejection, and the audit trail of each side."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange.handover_network import HOSPITAL, NURSING_HOME, Logged, logged, mark, network

from samen.exchange.handover_remote import HandoverError
from samen.fhir.model import Model


def test_hospital_hands_over_to_nursing_home_through_every_status(tmp_path: Path, database_url: str,
                                                                  model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sender, receiver = net.service(net.hospital), net.service(net.nursing_home)
        at_hospital, at_home = mark(net.hospital), mark(net.nursing_home)

        sent = sender.send(patient_id="p1", receiver_ura=NURSING_HOME, resources=["Condition/c1", "AllergyIntolerance/a1"],
                           note="Mobiliseren met rollator", attestation=net.attestation(HOSPITAL))
        assert (sent.direction, sent.status, sent.patient_display) == ("out", "requested", "Jan de Vries")
        assert (sent.sender_name, sent.receiver_name, sent.note) == ("Ziekenhuis Oost", "Verpleeghuis De Linde",
                                                                     "Mobiliseren met rollator")
        [incoming] = receiver.incoming()
        assert (incoming.direction, incoming.status, incoming.sender_ura, incoming.patient_display) == (
            "in", "requested", HOSPITAL, "Jan de Vries")
        assert receiver.outgoing() == [] and sender.incoming() == []

        attestation = net.attestation(NURSING_HOME)
        pulled = receiver.pull(incoming.id, attestation=attestation)
        assert pulled.task["id"] == sent.id and pulled.task["status"] == "received"
        assert sorted(f"{r['resourceType']}/{r['id']}" for r in pulled.resources) == [
            "AllergyIntolerance/a1", "Condition/c1", "Patient/p1"]  # and not the other patient's Condition/c2
        assert pulled.handover.status == "received"
        assert sender.outgoing()[0].status == "received"

        for step, status in ((receiver.accept, "accepted"), (receiver.start, "in-progress"),
                             (receiver.complete, "completed")):
            assert step(incoming.id, attestation=attestation).status == status
            assert sender.outgoing()[0].status == status
        assert receiver.incoming()[0].status == "completed"

        task, notification = f"Task/{sent.id}", f"Task/{incoming.id}"
        moves = [Logged(NURSING_HOME, f"GET {task}", "0"), Logged(NURSING_HOME, f"PUT {task}", "0")] * 3
        assert logged(net.hospital, at_hospital) == [
            Logged("operator", "POST Task", "0"),  # the workflow Task, in a transaction
            Logged(NURSING_HOME, f"GET {task}", "0"), Logged(NURSING_HOME, "GET Patient/p1", "0"),
            Logged(NURSING_HOME, "GET Condition/c1", "0"), Logged(NURSING_HOME, "GET AllergyIntolerance/a1", "0"),
            Logged(NURSING_HOME, f"PUT {task}", "0"),  # received
            *moves]
        assert logged(net.nursing_home, at_home) == [
            Logged(HOSPITAL, "POST Task", "0"),  # the notification
            *[Logged("operator", f"PUT {notification}", "0")] * 4]  # received, accepted, in-progress, completed


def test_nursing_home_hands_its_summary_to_hospital_which_rejects(tmp_path: Path, database_url: str,
                                                                  model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        sender, receiver = net.service(net.nursing_home), net.service(net.hospital)
        at_hospital, at_home = mark(net.hospital), mark(net.nursing_home)

        sent = sender.send(patient_id="n1", receiver_ura=HOSPITAL, resources=[], note="",
                           attestation=net.attestation(NURSING_HOME))
        [incoming] = receiver.incoming()
        attestation = net.attestation(HOSPITAL)
        pulled = receiver.pull(incoming.id, attestation=attestation)
        kinds = sorted(f"{r['resourceType']}/{r.get('id')}" for r in pulled.resources if r["resourceType"] != "List")
        assert kinds == ["Condition/nc1", "Patient/n1"]  # the summary List and what it lists
        [summary] = [r for r in pulled.resources if r["resourceType"] == "List"]

        rejected = receiver.reject(incoming.id, "Geen bed beschikbaar", attestation=attestation)
        assert rejected.status == "rejected"
        assert sender.outgoing()[0].status == "rejected"
        with pytest.raises(HandoverError) as refused:  # rejected is final: the sender's node refuses the move
            receiver.start(incoming.id, attestation=attestation)
        assert refused.value.status == 409 and "cannot move" in refused.value.message
        assert sender.outgoing()[0].status == "rejected" and receiver.incoming()[0].status == "rejected"

        task, notification = f"Task/{sent.id}", f"Task/{incoming.id}"
        assert logged(net.nursing_home, at_home) == [
            Logged("operator", "POST List", "0"), Logged("operator", "POST Task", "0"),
            Logged(HOSPITAL, f"GET {task}", "0"), Logged(HOSPITAL, "GET Patient/n1", "0"),
            Logged(HOSPITAL, f"GET List/{summary['id']}", "0"), Logged(HOSPITAL, "GET Condition/nc1", "0"),
            Logged(HOSPITAL, f"PUT {task}", "0"),  # received
            Logged(HOSPITAL, f"GET {task}", "0"), Logged(HOSPITAL, f"PUT {task}", "0"),  # rejected
            Logged(HOSPITAL, f"GET {task}", "0"), Logged(HOSPITAL, f"PUT {task}", "4"),  # the refused start
        ]
        assert logged(net.hospital, at_hospital) == [
            Logged(NURSING_HOME, "POST Task", "0"),
            Logged("operator", f"PUT {notification}", "0"), Logged("operator", f"PUT {notification}", "0")]
