"""samen serve chains its workers' audit spools in a process of its own: the entries of reads reach the trail
within a fraction of a second while the workers chain only every 10 s, and the chainer stops with the node."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
from audit_helpers import serve
from serving import free_port

from samen.audit import store as audit_store
from samen.audit.trail import ORPHANS_EVERY_S
from samen.store.db import open_database


def chained_reads(database_url: str) -> int:
    """Successful reads on the trail, as the database holds it (nothing is chained by asking)."""
    database = open_database(database_url)
    try:
        with database.connection() as conn:
            return sum(1 for e in audit_store.entries(conn) if e.action == "R" and e.outcome == "0")
    finally:
        database.close()


def chainers(serving: int) -> set[int]:
    """The processes ``serving`` (samen serve with one worker) spawned: the chainer (not multiprocessing's tracker)."""
    found = set()
    for task in Path(f"/proc/{serving}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command and b"resource_tracker" not in command:
                found.add(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_reads_are_chained_beside_the_workers_and_the_chainer_ends_with_the_node(database_url: str,
                                                                                tmp_path: Path) -> None:
    port = free_port()
    proc = serve(database_url, port, tmp_path / "node.log", workers=1)
    try:
        started_chainers = chainers(proc.pid)
        assert len(started_chainers) == 1, "samen serve started no chainer"
        base = f"http://127.0.0.1:{port}/fhir"
        created = httpx.post(f"{base}/Patient", json={"resourceType": "Patient"}, timeout=10).json()
        started = time.monotonic()
        for _ in range(5):
            assert httpx.get(f"{base}/Patient/{created['id']}", timeout=10).status_code == 200
        while chained_reads(database_url) < 5:
            assert time.monotonic() - started < ORPHANS_EVERY_S / 2, "the reads were not chained beside the workers"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)  # as an operator stops it; the chainer goes with it
        proc.wait(30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started_chainers):
        assert time.monotonic() < deadline, "the chainer outlived samen serve"
        time.sleep(0.1)
