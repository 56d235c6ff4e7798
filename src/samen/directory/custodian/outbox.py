"""The outbox: "(patient, category) may have changed", written in the transaction that changed the data.

:class:`OutboxWriter` is a store write observer (:data:`samen.store.store.WriteObserver`). For every
written resource of a registered category it queues its patient and category; for an update or a
deletion also those of the version before (a resource can move to another patient or category, and a
deleted one names its patient only in its previous version). A Patient written or deleted queues
:data:`~samen.directory.custodian.holdings.ALL`: its BSN may have changed, so each category is checked.

Rows are append-only and taken by sequence number: a change queued while the worker is sending stays
for the next round, so no change is lost between reading the outbox and deleting what was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from samen.directory.custodian.holdings import ALL, PATIENT, categories_by_type, category, patients_of
from samen.fhir.model import Model
from samen.fhir.primitives import now_ms
from samen.store.db import IN, Conn
from samen.store.store import Session, Write

_PREVIOUS = (
    "SELECT v.content FROM resource r JOIN resource_version v ON v.rid = r.rid AND v.version = ? "
    "WHERE r.res_type = ? AND r.res_id = ?"
)


@dataclass(frozen=True)
class Change:
    seq: int
    patient_id: str
    category: str  # a category code, or ALL


class OutboxWriter:
    """The write observer that fills the outbox (installed on the store by the custodian feature)."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def __call__(self, session: Session, writes: Sequence[Write]) -> None:
        relevant = categories_by_type()
        queued: set[tuple[str, str]] = set()
        for write in writes:
            if write.res_type not in relevant:
                continue
            contents = [write.content] if write.content is not None else []
            if write.version > 1:
                contents += self._previous(session.conn, write)
            for content in contents:
                queued |= self._changes(session, write, content)
        if queued:
            now = now_ms()
            session.conn.insert_many("custodian_outbox", ("patient_id", "category", "queued_ms"),
                                     [(patient_id, code, now) for patient_id, code in sorted(queued)])

    def _changes(self, session: Session, write: Write, content: dict[str, Any]) -> set[tuple[str, str]]:
        code = ALL if write.res_type == PATIENT else category(content)
        if code is None:
            return set()
        patients = patients_of(self.model, session.store.indexer, write.res_type, write.res_id, content)
        return {(patient_id, code) for patient_id in patients}

    def _previous(self, conn: Conn, write: Write) -> list[dict[str, Any]]:
        rows = conn.execute(_PREVIOUS, (write.version - 1, write.res_type, write.res_id))
        return [orjson.loads(rows[0][0])] if rows and rows[0][0] is not None else []


def take(conn: Conn, limit: int) -> list[Change]:
    """The oldest ``limit`` rows (left in place: :func:`done` removes them once handled)."""
    rows = conn.execute("SELECT seq, patient_id, category FROM custodian_outbox ORDER BY seq LIMIT ?", (limit,))
    return [Change(seq, patient_id, code) for seq, patient_id, code in rows]


def done(conn: Conn, changes: Sequence[Change]) -> None:
    conn.execute_in(f"DELETE FROM custodian_outbox WHERE seq {IN}", (), [change.seq for change in changes])


def pending(conn: Conn) -> int:
    return conn.execute("SELECT count(*) FROM custodian_outbox")[0][0]
