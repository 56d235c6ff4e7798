"""Helpers of the audit trail's tests: the clinic node of tests/auth (importable from here) and the trail's entries."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

from clinic import Clinic, clinic  # noqa: E402,F401

from samen.audit import store as audit_store  # noqa: E402
from samen.audit.chain import Entry  # noqa: E402
from samen.node import Node  # noqa: E402

SAMEN = str(Path(sys.executable).with_name("samen"))


def trail_entries(node: Node) -> list[Entry]:
    """Every entry on the node's trail, oldest first."""
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        return list(audit_store.entries(session.conn))


def last_seq(node: Node) -> int:
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        return int(session.conn.execute("SELECT coalesce(max(seq), 0) FROM audit_entry")[0][0])


def serve(db_url: str, port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [SAMEN, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port), "--open",
         "--log-level", "warning", "--workers", str(workers)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
