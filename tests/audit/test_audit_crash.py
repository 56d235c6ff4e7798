"""Crash safety: a node process killed with SIGKILL while reads are in flight has an entry for every read it answered
(the answer is only sent once the entry is committed), and its chain still verifies; with one worker (which appends
itself) and with two (which hand their entries to the node's one appender, samen.audit.appender)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from audit_helpers import serve
from serving import free_port

from samen.audit import spool
from samen.audit import store as audit_store
from samen.audit.events import audit_event_of
from samen.store.db import open_database

PATIENTS = 20


@pytest.mark.parametrize("workers", [1, 2])
def test_every_answered_read_survives_a_kill(database_url: str, tmp_path: Path, workers: int) -> None:
    port = free_port()
    proc = serve(database_url, port, tmp_path / "node.log", workers)
    base = f"http://127.0.0.1:{port}/fhir"
    answered: list[str] = []
    stop = threading.Event()
    try:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"family": f"Jansen-{n}"}]},
             "request": {"method": "POST", "url": "Patient"}} for n in range(PATIENTS)]}
        created = httpx.post(base, json=bundle, timeout=30).json()
        ids = [entry["response"]["location"].split("/")[1] for entry in created["entry"]]

        def read(worker: int) -> None:
            with httpx.Client(base_url=base + "/", timeout=5) as fhir:
                n = worker
                while not stop.is_set():
                    path = f"Patient/{ids[n % PATIENTS]}"
                    try:
                        if fhir.get(path, params={"_summary": "false"}).status_code == 200:
                            answered.append(path)
                    except httpx.HTTPError:
                        return
                    n += 1

        threads = [threading.Thread(target=read, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        while len(answered) < 200:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-request: the readers are still sending
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    database = open_database(database_url)
    try:
        spool.ingest_all(database, spool.spool_directory(database, database_url))  # what the killed node spooled
        with database.connection() as conn:
            reads = [audit_event_of(e.event, e.recorded_ms) for e in audit_store.entries(conn)
                     if e.action == "R" and e.outcome == "0"]
            verdict = audit_store.verify_chain(conn)
    finally:
        database.close()
    recorded = [event["entity"][0]["description"].removeprefix("GET ") for event in reads]
    missing = len(answered) - sum(min(recorded.count(p), answered.count(p)) for p in set(answered))
    assert missing == 0, f"{missing} answered reads have no audit entry"
    assert verdict.intact, verdict
