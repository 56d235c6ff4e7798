"""Writes of many resources at once (:meth:`Session.put_many`), and the row writes every write shares.

A batch takes a few statements for any number of resources: one locking head lookup per type, one
insert of new heads, one update of existing heads, one delete per index table, one insert of
versions and one per index table (SQLite splits long lists: see :mod:`samen.store.db`). It keeps the
invariants of :meth:`Session.update` for each resource, in the order given (an id given twice gets
two versions).

New resources get their head row first (its rid goes into every other row). Then every resource is
stamped and indexed; one that cannot be stored fails the batch with its position (:class:`BatchError`)
after those heads are deleted again, so that nothing of the batch is left behind.

:func:`stamp`, :func:`next_updated_ms`, :func:`insert_versions`, :func:`index_table_rows`,
:func:`insert_index` and :func:`delete_index` are the store's write rules; single writes
(:meth:`Session.create`, ...) use them too, as batches of one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from samen.fhir.primitives import ms_to_instant, now_ms
from samen.store.db import IN, Conn
from samen.store.indexer import Indexer
from samen.store.resources import StoredResource
from samen.store.rows import COLUMNS, IndexRows
from samen.store.schema import INDEX_TABLES

Key = tuple[str, str]  # (resource type, id)
Head = tuple[int, int, int, int]  # the row in ``resource``: rid, version, updated_ms, deleted

VERSION_COLUMNS = ("rid", "version", "res_type", "res_id", "updated_ms", "method", "content")
SET_HEAD = "UPDATE resource SET version = ?, updated_ms = ?, deleted = 0 WHERE rid = ?"
_HEAD_COLUMNS = ("res_type", "res_id", "version", "updated_ms", "deleted")
_HEADS = "SELECT res_id, rid, version, updated_ms, deleted FROM resource WHERE res_type = ? AND res_id " + IN
_DELETE_HEADS = "DELETE FROM resource WHERE rid " + IN
_INDEX_COLUMNS = {table: ("rid", "res_type", *columns) for table, columns in COLUMNS.items()}


class BatchError(Exception):
    """Resource ``index`` (0-based) of a batch cannot be stored; nothing of the batch was written."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(slots=True)
class _Plan:
    version_rows: list[tuple]  # rows in ``resource_version``: one per resource written, in the order given
    latest: dict[Key, tuple[int, int]]  # per resource: its last version and that version's updated_ms
    index: dict[str, list[tuple]]  # per index table: the rows of each resource's last version


# -- the batch ------------------------------------------------------------------------------------


def put_many(conn: Conn, indexer: Indexer, resources: Sequence[dict[str, Any]]) -> list[StoredResource]:
    """Create or update each resource under its own id (a new id when it has none), in order.

    Sets ``id`` and ``meta`` in place, as single writes do. Raises :class:`BatchError` for a
    resource that cannot be stored. Returns the version stored for each resource.
    """
    keys = _keys(resources)
    heads = _lock_heads(conn, keys)
    now = now_ms()
    new = [key for key in dict.fromkeys(keys) if key not in heads]
    created = _insert_heads(conn, new, now)
    rids = {key: head[0] for key, head in heads.items()} | created
    try:
        plan = _plan(indexer, resources, keys, heads, rids, now)
    except BatchError:
        conn.execute_in(_DELETE_HEADS, (), list(created.values()))
        raise
    _write(conn, plan, heads, rids)
    # made last, so short-lived: objects that outlive many allocations make the garbage collector
    # sweep the whole heap more often
    stored = [
        StoredResource(res_type, res_id, version, updated_ms, False, content, method)
        for _, version, res_type, res_id, updated_ms, method, content in plan.version_rows
    ]
    if len(created) < len(new):  # some were created by a concurrent transaction since the head lookup
        return _with_late(conn, indexer, resources, keys, rids, stored)
    return stored


def _keys(resources: Sequence[dict[str, Any]]) -> list[Key]:
    """Each resource's (type, id), giving a new id to a resource without one (as a create would)."""
    keys: list[Key] = []
    position = 0
    try:
        for position, resource in enumerate(resources):
            if not resource.get("id"):
                resource["id"] = str(uuid.uuid4())
            keys.append((resource["resourceType"], resource["id"]))
    except (AttributeError, KeyError, TypeError) as error:
        raise BatchError(position, f"not a resource ({type(error).__name__}: {error})") from error
    return keys


def _lock_heads(conn: Conn, keys: Iterable[Key]) -> dict[Key, Head]:
    """The heads of the resources that exist, locked as :meth:`Session.update` locks them."""
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for res_type, res_id in dict.fromkeys(keys):
        ids_by_type[res_type].append(res_id)
    sql = _HEADS + conn.dialect.for_update
    heads: dict[Key, Head] = {}
    for res_type, ids in ids_by_type.items():
        for res_id, rid, version, updated_ms, deleted in conn.execute_in(sql, (res_type,), ids):
            heads[(res_type, res_id)] = (rid, version, updated_ms, deleted)
    return heads


def _insert_heads(conn: Conn, keys: list[Key], now: int) -> dict[Key, int]:
    """Heads at version 1 for new resources; their rids. A key taken meanwhile (a concurrent create) is left out."""
    created = conn.insert_new(
        "resource",
        _HEAD_COLUMNS,
        [(res_type, res_id, 1, now, 0) for res_type, res_id in keys],
        key=("res_type", "res_id"),
        returning=("rid", "res_type", "res_id"),
    )
    return {(res_type, res_id): rid for rid, res_type, res_id in created}


def _plan(
    indexer: Indexer,
    resources: Sequence[dict[str, Any]],
    keys: list[Key],
    heads: dict[Key, Head],
    rids: dict[Key, int],
    now: int,
) -> _Plan:
    """Version, time, JSON and index rows of every resource that has a rid, in order."""
    plan = _Plan([], {key: (head[1], head[2]) for key, head in heads.items()}, defaultdict(list))
    last = {key: position for position, key in enumerate(keys)}  # whose index rows are kept
    position = 0
    try:
        for position, (resource, key) in enumerate(zip(resources, keys)):
            rid = rids.get(key)
            if rid is None:
                continue
            previous = plan.latest.get(key)
            if previous is None:
                version, updated_ms, method = 1, now, "POST"
            else:
                version, updated_ms, method = previous[0] + 1, next_updated_ms(previous[1], now), "PUT"
            plan.latest[key] = (version, updated_ms)
            content = stamp(resource, key[1], version, updated_ms)
            rows = indexer.index(resource)
            if last[key] == position:
                for table, table_rows in index_table_rows(rid, key[0], rows).items():
                    plan.index[table] += table_rows
            plan.version_rows.append((rid, version, *key, updated_ms, method, content))
    except Exception as error:  # a value that cannot be serialised or indexed: a bug to report, with where
        raise BatchError(position, f"cannot be stored ({type(error).__name__}: {error})") from error
    return plan


def _write(conn: Conn, plan: _Plan, heads: dict[Key, Head], rids: dict[Key, int]) -> None:
    """Bring heads to their last version, replace the index rows, append the versions."""
    moved = [  # a new resource's head is at version 1 already, unless it came more than once
        (version, updated_ms, rids[key])
        for key, (version, updated_ms) in plan.latest.items()
        if key in heads or version > 1
    ]
    if moved:
        conn.execute_many(SET_HEAD, moved)
    delete_index(conn, [rid for rid, _, _, deleted in heads.values() if not deleted])
    insert_versions(conn, plan.version_rows)
    insert_index(conn, plan.index)


def _with_late(
    conn: Conn,
    indexer: Indexer,
    resources: Sequence[dict[str, Any]],
    keys: list[Key],
    rids: dict[Key, int],
    written: list[StoredResource],
) -> list[StoredResource]:
    """Every resource's version in order, after writing those left out (they exist now: updates)."""
    late = [position for position, key in enumerate(keys) if key not in rids]
    redone = dict(zip(late, put_many(conn, indexer, [resources[p] for p in late])))
    others = iter(written)
    return [redone[p] if p in redone else next(others) for p in range(len(keys))]


# -- the rules every write follows ----------------------------------------------------------------


def stamp(resource: dict[str, Any], res_id: str, version: int, updated_ms: int) -> bytes:
    """Set id, meta.versionId and meta.lastUpdated (in place) and serialise: the JSON as stored."""
    resource["id"] = res_id
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = ms_to_instant(updated_ms)
    resource["meta"] = meta
    return orjson.dumps(resource)


def next_updated_ms(previous_ms: int, now: int) -> int:
    """The time of a new version: now, yet always later than the previous one (clocks step back)."""
    return max(now, previous_ms + 1)


def insert_versions(conn: Conn, rows: Sequence[tuple[int, int, str, str, int, str, bytes | None]]) -> None:
    """Append versions (rows in the order of :data:`VERSION_COLUMNS`; content None for a deletion)."""
    conn.insert_many("resource_version", VERSION_COLUMNS, rows)


def index_table_rows(rid: int, res_type: str, rows: IndexRows) -> dict[str, list[tuple]]:
    """One resource's index rows as rows of their tables (rid and type first); empty tables left out."""
    return {
        table: [(rid, res_type, *row) for row in table_rows]
        for table, table_rows in rows.by_table().items()
        if table_rows
    }


def insert_index(conn: Conn, by_table: Mapping[str, Sequence[tuple]]) -> None:
    """Insert the index rows of current versions (see :func:`index_table_rows`): one insert per table."""
    for table, rows in by_table.items():
        conn.insert_many(table, _INDEX_COLUMNS[table], rows)


def delete_index(conn: Conn, rids: Sequence[int]) -> None:
    """Remove the index rows of these resources (their current version is about to change)."""
    conn.delete_in(INDEX_TABLES, "rid", rids)
