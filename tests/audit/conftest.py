"""The audit trail's tests: a trail on each engine, and the secured clinic node of tests/auth."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

from clinic import Clinic, clinic  # noqa: E402

from samen.audit import store as audit_store  # noqa: E402
from samen.audit.chain import Entry  # noqa: E402
from samen.fhir.model import Model  # noqa: E402
from samen.node import Node  # noqa: E402


@pytest.fixture
def site(database_url: str, model: Model, tmp_path: Path) -> Iterator[Clinic]:
    with clinic(database_url, model, tmp_path) as served:
        yield served


def trail_entries(node: Node) -> list[Entry]:
    """Every entry on the node's trail, oldest first."""
    with node.store.session(write=False) as session:
        return list(audit_store.entries(session.conn))


def last_seq(node: Node) -> int:
    with node.store.session(write=False) as session:
        return int(session.conn.execute("SELECT coalesce(max(seq), 0) FROM audit_entry")[0][0])
