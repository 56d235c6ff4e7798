"""The audit entries in the database (``audit_entry``, ``audit_head``): append, read, search, prune.

Appends are serialised by the head row: it is read and locked in the appending transaction (SQLite:
the write transaction is the lock; PostgreSQL: ``SELECT ... FOR UPDATE``), so the chain is one chain
for every worker process of the node. Nothing here updates or deletes an entry except :func:`prune`.
Knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from samen.audit.chain import Entry, Verdict, entry_hash, verify
from samen.store.db import Conn

_COLUMNS = ("seq", "recorded_ms", "patient", "organisation", "action", "outcome", "purpose", "event", "prev_hash",
            "hash")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM audit_entry"
_PAGE = 1000


def append(conn: Conn, entries: Sequence[Entry]) -> list[Entry]:
    """Chain ``entries`` (their seq and hashes are assigned here) after the head, in ``conn``'s write transaction."""
    if not entries:
        return []
    seq, prev = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1" + conn.dialect.for_update)[0]
    chained = _chain(entries, seq, prev)
    conn.insert_many("audit_entry", _COLUMNS, chained)  # an Entry is its row
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (chained[-1].seq, chained[-1].hash))
    return chained


def _chain(batch: Sequence[Entry], seq: int, prev: str) -> list[Entry]:
    """``batch`` with seq and hashes assigned, after the entry ``seq`` whose hash is ``prev``."""
    chained = []
    for entry in batch:
        seq += 1
        hashed = entry_hash(prev, entry, seq)
        chained.append(Entry(seq, *entry[1:8], prev, hashed))
        prev = hashed
    return chained


def _entry(row: Sequence) -> Entry:
    return Entry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bytes(row[7]), row[8], row[9])


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    anchor_seq: int
    anchor_hash: str


def head(conn: Conn) -> Head:
    return Head(*conn.execute("SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1")[0])


def entries(conn: Conn, after: int = 0) -> Iterator[Entry]:
    """Every entry after seq ``after``, in seq order, a page at a time."""
    while True:
        rows = conn.execute(f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT {_PAGE}", (after,))
        for row in rows:
            yield _entry(row)
        if len(rows) < _PAGE:
            return
        after = rows[-1][0]


def verify_chain(conn: Conn) -> Verdict:
    """Verify the whole trail (from the anchor) against its head."""
    current = head(conn)
    return verify(entries(conn, current.anchor_seq), anchor=(current.anchor_seq, current.anchor_hash),
                  head=(current.seq, current.hash))


def read(conn: Conn, seq: int) -> Entry | None:
    rows = conn.execute(f"{_SELECT} WHERE seq = ?", (seq,))
    return _entry(rows[0]) if rows else None


@dataclass(frozen=True)
class Criteria:
    """What the trail is searched by; every field given must match (a tuple: any of its values)."""

    patients: tuple[str, ...] | None = None  # patient keys: BSNs or "Patient/id"
    organisations: tuple[str, ...] | None = None  # URAs
    actions: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None
    purposes: tuple[str, ...] | None = None
    recorded_from: int | None = None  # epoch ms, inclusive
    recorded_to: int | None = None  # epoch ms, inclusive
    seqs: tuple[int, ...] | None = None


def search(conn: Conn, criteria: Criteria, *, before: int | None, count: int) -> list[Entry]:
    """Matching entries, newest first, with seq below ``before`` (the paging cursor); at most ``count``."""
    where, args = [], []
    for column, values in (("patient", criteria.patients), ("organisation", criteria.organisations),
                           ("action", criteria.actions), ("outcome", criteria.outcomes),
                           ("purpose", criteria.purposes), ("seq", criteria.seqs)):
        if values is not None:
            if not values:
                return []
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            args.extend(values)
    for clause, value in (("recorded_ms >= ?", criteria.recorded_from), ("recorded_ms <= ?", criteria.recorded_to),
                          ("seq < ?", before)):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY seq DESC LIMIT {int(count)}"
    return [_entry(row) for row in conn.execute(sql, args)]


def prune(conn: Conn, older_than_ms: int) -> int:
    """Remove the entries recorded before ``older_than_ms`` (oldest first, up to the first younger entry).

    The last removed entry becomes the anchor, so the rest of the chain still verifies. Runs in
    ``conn``'s write transaction under the head lock: one pruner (and no appender) at a time.
    """
    current_seq = conn.execute("SELECT seq FROM audit_head WHERE id = 1" + conn.dialect.for_update)[0][0]
    rows = conn.execute("SELECT min(seq) FROM audit_entry WHERE recorded_ms >= ?", (older_than_ms,))
    keep_from = rows[0][0] if rows[0][0] is not None else current_seq + 1
    last = conn.execute("SELECT seq, hash FROM audit_entry WHERE seq < ? ORDER BY seq DESC LIMIT 1", (keep_from,))
    if not last:
        return 0
    removed = conn.execute("SELECT count(*) FROM audit_entry WHERE seq <= ?", (last[0][0],))[0][0]
    conn.execute("DELETE FROM audit_entry WHERE seq <= ?", (last[0][0],))
    conn.execute("UPDATE audit_head SET anchor_seq = ?, anchor_hash = ? WHERE id = 1", last[0])
    return int(removed)
