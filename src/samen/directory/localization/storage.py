"""The index's tables: registrations by pseudonym (never a BSN) and objections. Knows nothing of HTTP or FHIR."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from samen.store.db import IN, Conn

_COLUMNS = "id, pseudonym, category, custodian, registered"
_ROWS_PER_STATEMENT = 1000  # 5,000 values: within SQLite's placeholder limit


@dataclass(frozen=True)
class Registration:
    """One row: the custodian (URA) holds data of ``category`` for the person of ``pseudonym``."""

    id: str
    pseudonym: bytes
    category: str
    custodian: str
    registered_ms: int


class Objected(Exception):
    """The person objects to being registered at the index."""


def register(conn: Conn, pseudonym: bytes, category: str, custodian: str, new_id: str | None = None
             ) -> tuple[Registration, bool]:
    """Add a registration, or find the same one made before (True when it is new); raises :class:`Objected`.

    The objection check is part of the INSERT, so a new registration costs one statement.
    """
    now = int(time.time() * 1000)
    inserted = conn.execute(
        f"INSERT INTO nvi_registration ({_COLUMNS}) SELECT ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM nvi_objection WHERE pseudonym = ?) "
        "ON CONFLICT (pseudonym, category, custodian) DO NOTHING RETURNING id",
        (new_id or str(uuid.uuid4()), pseudonym, category, custodian, now, pseudonym),
    )
    if inserted:
        return Registration(inserted[0][0], pseudonym, category, custodian, now), True
    existing = find(conn, pseudonym, (category,), custodian)
    if not existing:
        raise Objected()
    return existing[0], False


def register_many(conn: Conn, rows: Sequence[tuple[str, bytes, str, str]]) -> list[tuple[Registration, bool]]:
    """:func:`register` for many ``(new id, pseudonym, category, custodian)`` at once, in order; raises
    :class:`Objected` when any of the persons objects (nothing is then to be kept: the caller rolls back).

    One INSERT for all rows (the objection check part of it, as in :func:`register`) and, for the rows that
    were there before, one SELECT.
    """
    now = int(time.time() * 1000)
    inserted: set[str] = set()
    for chunk in _chunks(rows, _ROWS_PER_STATEMENT):
        inserted.update(row[0] for row in _insert_absent(conn, [(*row, now) for row in chunk]))
    existing = {}
    earlier = {row[1] for row in rows if row[0] not in inserted}
    if earlier:
        existing = {(r.pseudonym, r.category, r.custodian): r for r in _of_persons(conn, sorted(earlier))}
    results = []
    for new_id, pseudonym, category, custodian in rows:
        if new_id in inserted:
            results.append((Registration(new_id, pseudonym, category, custodian, now), True))
        elif (found := existing.get((pseudonym, category, custodian))) is not None:
            results.append((found, False))
        else:
            raise Objected()
    return results


def _insert_absent(conn: Conn, rows: Sequence[tuple[str, bytes, str, str, int]]) -> list[tuple]:
    """Insert the rows whose person does not object and whose key is not taken; the ids inserted."""
    objection_free = ("WHERE NOT EXISTS (SELECT 1 FROM nvi_objection o WHERE o.pseudonym = v.pseudonym) "
                      "ON CONFLICT (pseudonym, category, custodian) DO NOTHING RETURNING id")
    if conn.dialect.name == "postgres":  # one array per column: one plan for any number of rows
        return conn.execute(
            f"INSERT INTO nvi_registration ({_COLUMNS}) SELECT * FROM "
            f"unnest(?::text[], ?::bytea[], ?::text[], ?::text[], ?::bigint[]) AS v({_COLUMNS}) {objection_free}",
            [list(column) for column in zip(*rows)])
    values = ", ".join(["(?, ?, ?, ?, ?)"] * len(rows))
    return conn.execute(f"WITH v({_COLUMNS}) AS (VALUES {values}) "
                        f"INSERT INTO nvi_registration ({_COLUMNS}) SELECT * FROM v {objection_free}",
                        [value for row in rows for value in row])


def _of_persons(conn: Conn, pseudonyms: Sequence[bytes]) -> list[Registration]:
    rows = conn.execute_in(f"SELECT {_COLUMNS} FROM nvi_registration WHERE pseudonym {IN}", (), list(pseudonyms))
    return [_registration(row) for row in rows]


def _chunks(rows: Sequence[tuple[str, bytes, str, str]], size: int) -> list[Sequence[tuple[str, bytes, str, str]]]:
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def find(conn: Conn, pseudonym: bytes, categories: Sequence[str] = (), custodian: str = "") -> list[Registration]:
    """A person's registrations, of any of ``categories`` (empty: all) and of ``custodian`` ("" : any)."""
    sql = f"SELECT {_COLUMNS} FROM nvi_registration WHERE pseudonym = ?"
    args: list[object] = [pseudonym]
    if custodian:
        sql += " AND custodian = ?"
        args.append(custodian)
    if categories:
        rows = conn.execute_in(f"{sql} AND category {IN} ORDER BY category, custodian", args, list(categories))
    else:
        rows = conn.execute(f"{sql} ORDER BY category, custodian", args)
    return [_registration(row) for row in rows]


def get(conn: Conn, registration_id: str) -> Registration | None:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM nvi_registration WHERE id = ?", (registration_id,))
    return _registration(rows[0]) if rows else None


def delete(conn: Conn, registration_ids: Sequence[str]) -> None:
    conn.delete_in(("nvi_registration",), "id", list(registration_ids))


def object_to_registration(conn: Conn, pseudonym: bytes) -> int:
    """Record a person's objection and remove their registrations; how many were removed.

    On PostgreSQL (read committed) a registration being made at the same moment would miss both the objection
    and the deletion; the table lock makes the two wait for each other. Objections are rare, registrations
    many: the cost falls on the objection. SQLite has one writer at a time anyway.
    """
    if conn.dialect.name == "postgres":
        conn.execute("LOCK TABLE nvi_registration IN SHARE ROW EXCLUSIVE MODE")
    conn.execute("INSERT INTO nvi_objection (pseudonym, recorded) VALUES (?, ?) ON CONFLICT (pseudonym) DO NOTHING",
                 (pseudonym, int(time.time() * 1000)))
    removed = conn.execute("DELETE FROM nvi_registration WHERE pseudonym = ? RETURNING id", (pseudonym,))
    return len(removed)


def withdraw_objection(conn: Conn, pseudonym: bytes) -> bool:
    """Withdraw a person's objection; True when there was one."""
    return bool(conn.execute("DELETE FROM nvi_objection WHERE pseudonym = ? RETURNING pseudonym", (pseudonym,)))


def objects(conn: Conn, pseudonym: bytes) -> bool:
    """Whether the person objects to being registered."""
    return bool(conn.execute("SELECT 1 FROM nvi_objection WHERE pseudonym = ?", (pseudonym,)))


def _registration(row: tuple) -> Registration:
    return Registration(row[0], bytes(row[1]), row[2], row[3], row[4])
