"""Helpers of the audit trail's tests: the clinic node of tests/auth (importable from here) and the trail's entries."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

from clinic import Clinic, clinic  # noqa: E402,F401

from samen.audit import store as audit_store  # noqa: E402
from samen.audit.chain import Entry  # noqa: E402
from samen.node import Node  # noqa: E402


def trail_entries(node: Node) -> list[Entry]:
    """Every entry on the node's trail, oldest first."""
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        return list(audit_store.entries(session.conn))


def last_seq(node: Node) -> int:
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        return int(session.conn.execute("SELECT coalesce(max(seq), 0) FROM audit_entry")[0][0])
