"""The custodian side of localization over real HTTP: a hospital node registers what it holds at the index.

The hospital's store runs on each engine (``database_url``); the index and the pseudonymiser on SQLite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from auth.orgs import identity
from click.testing import CliRunner
from localization_nodes import BSNS, HOSPITAL_URA, REQUESTER_URA, Network, network
from serving import served_node

from samen.cli import main
from samen.directory import custodian
from samen.directory.custodian import state
from samen.directory.custodian.worker import Worker
from samen.directory.localization_client import Registration
from samen.fhir.model import Model
from samen.fhir.primitives import now_ms
from samen.node import Node
from samen.sample import BSN
from samen.store.db import Database

LAB = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass
class Calls:
    """The requests the hospital's worker sent to the pseudonymiser and the index (tokens left out)."""

    sent: list[httpx.Request] = field(default_factory=list)

    def registrations(self) -> int:
        return sum(len(orjson.loads(r.content).get("entry", [])) for r in self.sent
                   if r.method == "POST" and r.url.path.endswith("/fhir"))

    def index_calls(self) -> list[httpx.Request]:
        return [r for r in self.sent if "$pseudonymize" not in r.url.path]


@dataclass
class Site:
    net: Network
    hospital: Node
    calls: Calls
    db: str  # the hospital's database

    @property
    def base(self) -> str:
        return self.hospital.settings.base_url

    def write(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        answer = httpx.request(method, f"{self.base}/{path}", json=body, timeout=30)
        assert answer.status_code < 300, answer.text
        return answer

    def found(self, bsn: str) -> set[str]:
        """The categories the index names the hospital for, asked as another organisation would."""
        token = self.net.tokens([bsn], REQUESTER_URA)[0]
        return {loc.category for loc in self.net.client(REQUESTER_URA).search(token) if loc.custodian == HOSPITAL_URA}

    def ledger(self) -> set[tuple[str, str]]:
        with self.hospital.store.session(write=False) as session:
            return {(b, c) for b, c in session.conn.execute("SELECT bsn, category FROM custodian_ledger")}


def patient(pid: str, bsn: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "identifier": [{"system": BSN, "value": bsn}]}


def lab(pid: str, category: str = "laboratory") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "category": [{"coding": [{"system": LAB, "code": category}]}], "code": {"text": "Hb"},
            "valueQuantity": {"value": 8.1, "unit": "mmol/l"}}


def eventually(check: Callable[[], Any], expected: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while (value := check()) != expected:
        if time.monotonic() > deadline:
            assert value == expected
        time.sleep(0.1)


def counting(worker: Worker, calls: Calls) -> None:
    """Let ``worker``'s senders record every request they send."""
    make = worker.sender

    def sender() -> custodian.Sender:
        made = make()
        made.client.http = httpx.Client(timeout=30, event_hooks={"request": [calls.sent.append]})
        return made

    worker.sender = sender


@contextmanager
def site(tmp_path: Path, database_url: str, model: Model) -> Iterator[Site]:
    with network(tmp_path, str(tmp_path / "index.db"), model) as net:
        with served_node(database_url, model, **identity(net.orgs[HOSPITAL_URA], net.trust_file),
                         localization_index=net.index.settings.base_url,
                         pseudonymiser=net.pseudonymiser.settings.base_url) as hospital:
            calls = Calls()
            counting(hospital.services[custodian.SERVICE], calls)
            yield Site(net, hospital, calls, database_url)


@pytest.fixture
def s(tmp_path: Path, database_url: str, model: Model) -> Iterator[Site]:
    with site(tmp_path, database_url, model) as running:
        yield running


def test_a_lab_result_registers_the_patient_and_the_category_once(s: Site) -> None:
    s.write("PUT", "Patient/p1", patient("p1", BSNS[0]))
    s.write("POST", "Observation", lab("p1"))
    eventually(lambda: s.found(BSNS[0]), {"Patient", "ObservationLaboratory"})
    assert s.ledger() == {(BSNS[0], "Patient"), (BSNS[0], "ObservationLaboratory")}
    sent = len(s.calls.sent)
    s.write("POST", "Observation", lab("p1"))  # same category: nothing new
    eventually(lambda: _pending(s.hospital), 0)
    assert len(s.calls.sent) == sent
    s.write("POST", "Observation", lab("p1", "vital-signs"))  # a new category
    eventually(lambda: s.found(BSNS[0]), {"Patient", "ObservationLaboratory", "ObservationVitalSigns"})


def test_a_transaction_of_many_patients_is_sent_in_one_batch(s: Site) -> None:
    entries = []
    for n, bsn in enumerate(BSNS):
        entries.append({"fullUrl": f"urn:uuid:p{n}", "resource": patient(f"q{n}", bsn),
                        "request": {"method": "PUT", "url": f"Patient/q{n}"}})
        entries.append({"resource": lab(f"q{n}"), "request": {"method": "POST", "url": "Observation"}})
    s.write("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    eventually(lambda: len(s.ledger()), 2 * len(BSNS))
    assert len(s.calls.index_calls()) == 1  # one transaction Bundle at the index
    assert s.calls.registrations() == 2 * len(BSNS)
    assert s.found(BSNS[4]) == {"Patient", "ObservationLaboratory"}


def test_deleting_the_last_resource_of_a_category_deregisters_it(s: Site) -> None:
    s.write("PUT", "Patient/p1", patient("p1", BSNS[0]))
    first = s.write("POST", "Observation", lab("p1")).json()["id"]
    second = s.write("POST", "Observation", lab("p1")).json()["id"]
    eventually(lambda: s.found(BSNS[0]), {"Patient", "ObservationLaboratory"})
    s.write("DELETE", f"Observation/{first}")
    eventually(lambda: _pending(s.hospital), 0)
    assert s.found(BSNS[0]) == {"Patient", "ObservationLaboratory"}  # one left
    s.write("DELETE", f"Observation/{second}")
    eventually(lambda: s.found(BSNS[0]), {"Patient"})
    assert s.ledger() == {(BSNS[0], "Patient")}


def test_a_changed_bsn_moves_the_registrations(s: Site) -> None:
    s.write("PUT", "Patient/p1", patient("p1", BSNS[0]))
    s.write("POST", "Observation", lab("p1"))
    eventually(lambda: s.found(BSNS[0]), {"Patient", "ObservationLaboratory"})
    s.write("PUT", "Patient/p1", patient("p1", BSNS[1]))
    eventually(lambda: s.found(BSNS[1]), {"Patient", "ObservationLaboratory"})
    assert s.found(BSNS[0]) == set()


def test_a_person_who_objects_does_not_hold_up_the_other_registrations(s: Site) -> None:
    answer = s.net.object(BSNS[1], True)  # the citizen, at the pseudonymiser
    assert answer.status_code == 200, answer.text
    entries = [{"resource": patient(f"p{n}", bsn), "request": {"method": "PUT", "url": f"Patient/p{n}"}}
               for n, bsn in enumerate(BSNS[:3])]
    s.write("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    eventually(lambda: _pending(s.hospital), 0)
    assert s.ledger() == {(BSNS[0], "Patient"), (BSNS[2], "Patient")}
    assert s.found(BSNS[0]) == {"Patient"} and s.found(BSNS[1]) == set()
    assert _status(s.hospital).failures == 0


def test_an_unreachable_index_is_retried_until_it_answers(s: Site) -> None:
    worker = s.hospital.services[custodian.SERVICE]
    worker.backoff_ms = 200
    real, down = worker.sender, [True]

    def sender() -> custodian.Sender:
        made = real()
        if down[0]:
            made.client.index = "http://127.0.0.1:9/fhir"  # nothing listens on the discard port
        return made

    worker.sender = sender
    s.write("PUT", "Patient/p1", patient("p1", BSNS[0]))
    eventually(lambda: _status(s.hospital).failures >= 2, True)
    assert _pending(s.hospital) > 0 and s.ledger() == set()
    status = CliRunner().invoke(main, ["localization", "status", "--db", s.db])
    assert "unreachable" in status.output and BSNS[0] not in status.output
    down[0] = False
    eventually(lambda: s.found(BSNS[0]), {"Patient"})
    eventually(lambda: _status(s.hospital).failures, 0)
    assert _pending(s.hospital) == 0


def test_two_workers_on_one_database_never_send_a_registration_twice(s: Site) -> None:
    other = Worker(s.hospital.store, s.hospital.model, lambda: custodian.sender(s.hospital.settings), interval_s=0.05)
    counting(other, s.calls)
    other.start()
    try:
        for n, bsn in enumerate(BSNS):
            s.write("PUT", f"Patient/p{n}", patient(f"p{n}", bsn))
            s.write("POST", "Observation", lab(f"p{n}"))
        eventually(lambda: len(s.ledger()), 2 * len(BSNS))
        eventually(lambda: _pending(s.hospital), 0)
    finally:
        other.stop()
    assert s.calls.registrations() == 2 * len(BSNS)


def test_samen_import_registers_the_imported_patients(s: Site, tmp_path: Path) -> None:
    eventually(lambda: _status(s.hospital).imports_seen_ms >= 0, True)  # the first round has reconciled
    folder = tmp_path / "import"
    folder.mkdir()
    lines = [patient(f"i{n}", bsn) for n, bsn in enumerate(BSNS[:3])] + [lab("i0") | {"id": "o0"}]
    (folder / "data.ndjson").write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    result = CliRunner().invoke(main, ["import", str(folder), "--db", s.db, "--base-url", s.base, "--no-progress"])
    assert result.exit_code == 0, result.output
    eventually(lambda: s.ledger(), {(BSNS[0], "Patient"), (BSNS[0], "ObservationLaboratory"), (BSNS[1], "Patient"),
                                    (BSNS[2], "Patient")})
    assert s.found(BSNS[2]) == {"Patient"}


def test_reconcile_repairs_the_ledger_and_the_index(s: Site) -> None:
    for n, bsn in enumerate(BSNS[:2]):
        s.write("PUT", f"Patient/p{n}", patient(f"p{n}", bsn))
    s.write("POST", "Observation", lab("p0"))
    eventually(lambda: len(s.ledger()), 3)
    stray = Registration(s.net.tokens([BSNS[3]])[0], "Condition", HOSPITAL_URA)  # data the hospital no longer has
    stray_id = s.net.client(HOSPITAL_URA).register([stray])[0]
    with s.hospital.store.session() as session:
        session.conn.execute("DELETE FROM custodian_ledger WHERE bsn = ? AND category = 'ObservationLaboratory'",
                             (BSNS[0],))
        session.conn.execute("INSERT INTO custodian_ledger VALUES (?, 'Condition', 'gone', ?, 0)", (BSNS[3], stray_id))
    with s.net.index.store.session() as session:  # the index lost everything
        session.conn.execute("DELETE FROM nvi_registration")
    args = ["localization", "reconcile", "--db", s.db, "--no-progress"]
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "to register: 1, to deregister: 1" in dry.output
    assert (BSNS[3], "Condition") in s.ledger() and s.found(BSNS[0]) == set()
    settings = s.hospital.settings
    options = ["--keys", settings.keys_dir, "--trust-list", settings.trust_list,
               "--localization-index", settings.localization_index, "--pseudonymiser", settings.pseudonymiser]
    repaired = CliRunner().invoke(main, [*args, *options])
    assert repaired.exit_code == 0, repaired.output
    assert s.ledger() == {(BSNS[0], "Patient"), (BSNS[0], "ObservationLaboratory"), (BSNS[1], "Patient")}
    assert s.found(BSNS[0]) == {"ObservationLaboratory"}  # only what was missing from the ledger was sent
    full = CliRunner().invoke(main, [*args, *options, "--full"])
    assert full.exit_code == 0, full.output
    assert "to register: 3, to deregister: 0" in full.output
    assert s.found(BSNS[0]) == {"Patient", "ObservationLaboratory"} and s.found(BSNS[1]) == {"Patient"}
    assert s.found(BSNS[3]) == set()


def test_without_the_whole_configuration_nothing_is_switched_on(tmp_path: Path, database_url: str,
                                                               model: Model) -> None:
    with served_node(database_url, model, localization_index="http://127.0.0.1:9/fhir") as node:
        assert custodian.SERVICE not in node.services and not node.store.observers
        httpx.put(f"{node.settings.base_url}/Patient/p1", json=patient("p1", BSNS[0]), timeout=30)
        assert _pending(node) == 0


def _pending(node: Node) -> int:
    with node.store.session(write=False) as session:
        return session.conn.execute("SELECT count(*) FROM custodian_outbox")[0][0]


def _status(node: Node) -> state.Status:
    with node.store.session(write=False) as session:
        return state.read(session.conn)



def test_reconcile_plans_only_once_it_holds_the_lease(s: Site) -> None:
    """A worker's round that records its registrations while reconcile waits: reconcile must plan from the
    ledger as that round leaves it (planning first, it sent the round's registrations again)."""
    s.write("PUT", "Patient/p0", patient("p0", BSNS[0]))
    eventually(s.ledger, {(BSNS[0], "Patient")})
    with s.hospital.store.session(write=True) as session:  # a round in progress: lease held, not yet recorded
        kept = session.conn.execute("SELECT * FROM custodian_ledger")
        session.conn.execute("DELETE FROM custodian_ledger")
        assert state.acquire(session.conn, "worker:elsewhere", 60_000)
    settings = s.hospital.settings
    args = ["localization", "reconcile", "--db", s.db, "--no-progress", "--keys", settings.keys_dir, "--trust-list",
            settings.trust_list, "--localization-index", settings.localization_index, "--pseudonymiser",
            settings.pseudonymiser]
    result: list[Any] = []
    reconcile = threading.Thread(target=lambda: result.append(CliRunner().invoke(main, args)))
    reconcile.start()
    time.sleep(1)  # reconcile is waiting for the lease
    with s.hospital.store.session(write=True) as session:  # the round records what it sent and ends
        session.conn.execute_many("INSERT INTO custodian_ledger VALUES (?, ?, ?, ?, ?)", kept)
        state.release(session.conn, "worker:elsewhere")
    reconcile.join(30)
    assert result[0].exit_code == 0, result[0].output
    assert "to register: 0, to deregister: 0" in result[0].output


def test_a_lease_is_renewed_by_its_holder_only(database: Database) -> None:
    with database.connection(write=True) as conn:
        assert state.acquire(conn, "reconcile:1", 1_000)
        state.renew(conn, "reconcile:1", 60_000)
        assert state.read(conn).lease_until_ms > now_ms() + 50_000
        assert not state.acquire(conn, "worker:2", 60_000)  # still held
        conn.execute("UPDATE custodian_state SET lease_until_ms = 0")  # it ran out
        assert state.acquire(conn, "worker:2", 60_000)
        with pytest.raises(state.LeaseLost):
            state.renew(conn, "reconcile:1", 60_000)
        assert state.read(conn).holder == "worker:2"
