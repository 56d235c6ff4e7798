"""The store's write observers and the custodian's outbox and holdings, without HTTP (both engines)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from samen import logs
from samen.directory.custodian import holdings, outbox
from samen.directory.custodian.outbox import OutboxWriter
from samen.directory.custodian.sync import Sender
from samen.directory.custodian.worker import Worker
from samen.fhir.model import Model
from samen.sample import BSN
from samen.store.db import Database
from samen.store.store import Session, Store, Write

LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}


@pytest.fixture
def store(database: Database, model: Model) -> Store:
    store = Store(database, model)
    store.observers.append(OutboxWriter(model))
    return store


def _queued(store: Store) -> set[tuple[str, str]]:
    with store.session(write=False) as session:
        return {(c.patient_id, c.category) for c in outbox.take(session.conn, 1000)}


def _observation(pid: str, **extra: object) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pid}"}, **extra}


def test_observers_see_every_write_and_one_call_per_batch(database: Database, model: Model) -> None:
    store = Store(database, model)
    seen: list[list[tuple[str, str, int, bool]]] = []

    def observer(session: Session, writes: Sequence[Write]) -> None:
        seen.append([(w.res_type, w.res_id, w.version, w.content is None) for w in writes])

    store.observers.append(observer)
    with store.session() as session:
        session.create({"resourceType": "Patient"}, "p1")
        session.update({"resourceType": "Patient", "active": True}, "p1")
        session.delete("Patient", "p1")
        session.put_many([{"resourceType": "Patient", "id": "a"}, {"resourceType": "Patient", "id": "b"}])
    assert seen == [[("Patient", "p1", 1, False)], [("Patient", "p1", 2, False)], [("Patient", "p1", 3, True)],
                    [("Patient", "a", 1, False), ("Patient", "b", 1, False)]]


def test_the_outbox_commits_and_rolls_back_with_the_data(store: Store) -> None:
    with store.session() as session:
        session.create({"resourceType": "Patient", "identifier": [{"system": BSN, "value": "999911120"}]}, "p1")
        session.create(_observation("p1", category=[LAB]))
        session.create({"resourceType": "Organization", "name": "not patient data"})
    assert _queued(store) == {("p1", holdings.ALL), ("p1", "ObservationLaboratory")}
    with pytest.raises(RuntimeError), store.session() as session:
        session.create({"resourceType": "Condition", "subject": {"reference": "Patient/p2"}})
        raise RuntimeError("rolled back")
    assert ("p2", "Condition") not in _queued(store)


def test_an_update_and_a_delete_queue_the_patient_and_category_they_leave(store: Store) -> None:
    with store.session() as session:
        stored = session.create(_observation("p1", category=[LAB]))
        session.conn.execute("DELETE FROM custodian_outbox")
        session.update(_observation("p2"), stored.res_id)  # another patient, another category
    assert _queued(store) == {("p1", "ObservationLaboratory"), ("p2", "ObservationActivity")}
    with store.session() as session:
        session.conn.execute("DELETE FROM custodian_outbox")
        session.delete("Observation", stored.res_id)
    assert _queued(store) == {("p2", "ObservationActivity")}


def test_holdings_per_patient_from_the_compartment(store: Store, model: Model) -> None:
    with store.session() as session:
        session.put_many([
            {"resourceType": "Patient", "id": "p1", "identifier": [{"system": BSN, "value": "999911120"}]},
            {"resourceType": "Patient", "id": "p2"},
            _observation("p1", category=[LAB]) | {"id": "o1"},
            _observation("p1") | {"id": "o2"},
            {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p2"}},
            {"resourceType": "AuditEvent", "id": "a1", "type": {"code": "x"}, "recorded": "2024-01-01T00:00:00Z",
             "agent": [{"requestor": True, "who": {"reference": "Patient/p1"}}], "source": {"observer": {}},
             "entity": [{"what": {"reference": "Patient/p1"}}]},
        ])
        session.delete("Observation", "o2")
        everyone = holdings.held(session.conn, model, None)
        some = holdings.held(session.conn, model, ["p2"], ["Condition"])
        bsns = holdings.bsns(session.conn, None)
    assert everyone == {"p1": {"Patient", "ObservationLaboratory"}, "p2": {"Patient", "Condition"}}
    assert some == {"p2": {"Condition"}}
    assert bsns == {"p1": "999911120"}


def test_a_failing_round_logs_no_bsn(store: Store, model: Model, capfd: pytest.CaptureFixture[str]) -> None:
    """A database error names the key it tripped over (a BSN in the ledger's): the log line masks it."""
    logs.configure("info", json=True)

    def broken_sender() -> Sender:
        raise RuntimeError('duplicate key value violates unique constraint: Key (bsn, category)=(999911120, Patient)')

    with store.session(write=True) as session:
        session.create({"resourceType": "Patient", "identifier": [{"system": BSN, "value": "999911120"}]})
    worker = Worker(store, model, broken_sender, interval_s=0.05)
    capfd.readouterr()
    worker.start()
    time.sleep(0.5)
    worker.stop()
    logged = capfd.readouterr().err
    assert "localization round failed" in logged and "duplicate key" in logged
    assert "999911120" not in logged
