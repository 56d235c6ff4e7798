"""The ledger: what this custodian has registered at the index, per (BSN, category), with the List's id.

The custodian may keep the BSN: it is its own patient's. The index keeps only pseudonyms, so the
ledger is what tells this node which registrations to take back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from samen.fhir.primitives import now_ms
from samen.store.db import IN, Conn


@dataclass(frozen=True)
class Entry:
    bsn: str
    category: str
    patient_id: str  # one of this node's Patients with that BSN (to find the entry when the BSN changes)
    list_id: str  # the registration's id at the index


Registered = dict[str, dict[str, Entry]]  # BSN -> category -> entry

_COLUMNS = "bsn, category, patient_id, list_id"


def entries(conn: Conn, bsn_values: Collection[str] | None = None) -> Registered:
    """The entries of these BSNs (None: all)."""
    if bsn_values is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM custodian_ledger")
    else:
        rows = conn.execute_in(f"SELECT {_COLUMNS} FROM custodian_ledger WHERE bsn {IN}", (), sorted(bsn_values))
    return _grouped(rows)


def bsns_of_patients(conn: Conn, patient_ids: Collection[str]) -> dict[str, set[str]]:
    """Patient id -> the BSNs registered for it (the BSN it had, if it has changed since)."""
    found: dict[str, set[str]] = defaultdict(set)
    for patient_id, bsn in conn.execute_in("SELECT patient_id, bsn FROM custodian_ledger WHERE patient_id "
                                           + IN, (), sorted(patient_ids)):
        found[patient_id].add(bsn)
    return found


def record(conn: Conn, added: Iterable[Entry]) -> None:
    """Add (or replace) entries after the index accepted them."""
    rows = [(e.bsn, e.category, e.patient_id, e.list_id, now_ms()) for e in added]
    if not rows:
        return
    conn.execute_many("DELETE FROM custodian_ledger WHERE bsn = ? AND category = ?", [r[:2] for r in rows])
    conn.insert_many("custodian_ledger", ("bsn", "category", "patient_id", "list_id", "registered_ms"), rows)


def forget(conn: Conn, removed: Iterable[Entry]) -> None:
    """Remove entries after the index let go of them."""
    rows = [(e.bsn, e.category) for e in removed]
    if rows:
        conn.execute_many("DELETE FROM custodian_ledger WHERE bsn = ? AND category = ?", rows)


def size(conn: Conn) -> int:
    return conn.execute("SELECT count(*) FROM custodian_ledger")[0][0]


def _grouped(rows: Iterable[tuple]) -> Registered:
    found: Registered = defaultdict(dict)
    for bsn, code, patient_id, list_id in rows:
        found[bsn][code] = Entry(bsn, code, patient_id, list_id)
    return found
