"""The resource store: versioned JSON plus search-index rows, in one transaction per unit of work.

Knows nothing of HTTP. Every write keeps ``resource`` (one row per logical resource, its current
version), ``resource_version`` (every version, append-only) and the index tables consistent inside
one database transaction, so an error anywhere leaves nothing half-written. The rules of those writes
(stamping, version times, version and index rows) live in :mod:`samen.store.batch`, which also writes
many resources at once (:meth:`Session.put_many`).

Write observers (:attr:`Store.observers`) see every resource a session creates, updates or deletes,
inside that session's transaction: what an observer writes with ``session.conn`` commits or rolls back
with the data (the localization custodian's outbox is filled this way).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from samen.fhir import outcome
from samen.fhir.model import Model
from samen.fhir.primitives import now_ms
from samen.store import batch
from samen.store.batch import (
    SET_HEAD,
    delete_index,
    index_table_rows,
    insert_index,
    insert_versions,
    next_updated_ms,
    stamp,
)
from samen.store.db import Conn, Database
from samen.store.indexer import Indexer
from samen.store.resources import StoredResource
from samen.store.search import SearchQuery, SearchResult, run_search

_CURRENT = (
    "SELECT r.rid, r.version, r.updated_ms, r.deleted, v.content, v.method FROM resource r "
    "JOIN resource_version v ON v.rid = r.rid AND v.version = r.version "
    "WHERE r.res_type = ? AND r.res_id = ?"
)
_HEAD = "SELECT rid, version, updated_ms, deleted FROM resource WHERE res_type = ? AND res_id = ?"


@dataclass(frozen=True, slots=True)
class Write:
    """One resource version a session wrote: ``content`` is the stored JSON, None for a deletion.

    ``content`` is the store's own dict: observers read it and never change it.
    """

    res_type: str
    res_id: str
    version: int
    content: dict[str, Any] | None


WriteObserver = Callable[["Session", Sequence[Write]], None]
"""Called inside the writing transaction after each write (a batch of :meth:`Session.put_many`: one call)."""


@dataclass(frozen=True)
class HistoryPage:
    entries: list[StoredResource]
    total: int


class ResourceExists(outcome.FhirError):
    """A create found its id taken (409); ``update`` turns a lost creation race into an update."""

    def __init__(self, diagnostics: str) -> None:
        super().__init__(409, diagnostics, "duplicate")


class Store:
    """Entry point to storage; open a :class:`Session` per unit of work."""

    def __init__(self, database: Database, model: Model, base_url: str | None = None) -> None:
        self.database = database
        self.model = model
        self.indexer = Indexer(model, base_url)
        self.observers: list[WriteObserver] = []  # see :data:`WriteObserver`; an observer's error fails the write

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """One database transaction: committed when the block ends, rolled back on any error."""
        with self.database.connection(write=write) as conn:
            conn.begin(write)
            try:
                yield Session(self, conn)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise


class Session:
    """The operations of one transaction. Not thread-safe: one session, one thread."""

    def __init__(self, store: Store, conn: Conn) -> None:
        self.store = store
        self.conn = conn
        self._lock_head_sql = _HEAD + conn.dialect.for_update

    # -- reads ------------------------------------------------------------------------------

    def read(self, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource | None:
        """The current version (a deletion counts as a version), or None if it never existed.

        ``for_update`` locks the resource until the transaction ends (read-modify-write, as in patch).
        """
        if for_update:
            self._lock_head(res_type, res_id)
        rows = self.conn.execute(_CURRENT, (res_type, res_id))
        if not rows:
            return None
        _rid, version, updated_ms, deleted, content, method = rows[0]
        return StoredResource(res_type, res_id, version, updated_ms, bool(deleted), content, method)

    def vread(self, res_type: str, res_id: str, version: int) -> StoredResource | None:
        rows = self.conn.execute(
            "SELECT v.updated_ms, v.content, v.method FROM resource r JOIN resource_version v ON v.rid = r.rid "
            "WHERE r.res_type = ? AND r.res_id = ? AND v.version = ?",
            (res_type, res_id, version),
        )
        if not rows:
            return None
        updated_ms, content, method = rows[0]
        return StoredResource(res_type, res_id, version, updated_ms, content is None, content, method)

    def search(self, query: SearchQuery) -> SearchResult:
        return run_search(self.conn, self.store.model, query)

    def history(
        self,
        res_type: str | None = None,
        res_id: str | None = None,
        *,
        since_ms: int | None = None,
        at_range: tuple[int, int] | None = None,
        count: int = 50,
        offset: int = 0,
    ) -> HistoryPage:
        """Versions, newest first, for one resource, one type or the whole node."""
        where, args = ["1 = 1"], []
        if res_type is not None:
            where.append("v.res_type = ?")
            args.append(res_type)
        if res_id is not None:
            where.append("v.res_id = ?")
            args.append(res_id)
        if since_ms is not None:
            where.append("v.updated_ms >= ?")
            args.append(since_ms)
        if at_range is not None:
            # versions that were current at some moment in the range: written before its end and
            # not superseded before its start
            where.append("v.updated_ms <= ?")
            where.append(
                "NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.rid = v.rid AND n.version > v.version "
                "AND n.updated_ms <= ?)"
            )
            args.extend((at_range[1], at_range[0]))  # written before the end, not superseded before the start
        condition = " AND ".join(where)
        total = self.conn.execute(f"SELECT count(*) FROM resource_version v WHERE {condition}", args)[0][0]
        rows = self.conn.execute(
            f"SELECT v.res_type, v.res_id, v.version, v.updated_ms, v.method, v.content FROM resource_version v "
            f"WHERE {condition} ORDER BY v.updated_ms DESC, v.rid DESC, v.version DESC LIMIT ? OFFSET ?",
            [*args, count, offset],
        )
        entries = [
            StoredResource(t, i, version, updated, content is None, content, method)
            for t, i, version, updated, method, content in rows
        ]
        return HistoryPage(entries, total)

    # -- writes -----------------------------------------------------------------------------

    def lock(self, key: str) -> None:
        """Serialise with every other transaction that locks ``key`` (e.g. conditional creates)."""
        self.conn.lock(key)

    def create(self, resource: dict[str, Any], res_id: str | None = None) -> StoredResource:
        """Store a new resource under a new server-assigned id (or ``res_id`` when given and free)."""
        res_type = resource["resourceType"]
        res_id = res_id or str(uuid.uuid4())
        updated_ms = now_ms()
        content = stamp(resource, res_id, 1, updated_ms)
        rows = self.conn.execute(
            "INSERT INTO resource (res_type, res_id, version, updated_ms, deleted) VALUES (?, ?, 1, ?, 0) "
            "ON CONFLICT (res_type, res_id) DO NOTHING RETURNING rid",
            (res_type, res_id, updated_ms),
        )
        if not rows:
            raise ResourceExists(f"{res_type}/{res_id} already exists")
        rid = rows[0][0]
        insert_versions(self.conn, [(rid, 1, res_type, res_id, updated_ms, "POST", content)])
        self._insert_index(rid, res_type, resource)
        self._written([Write(res_type, res_id, 1, resource)])
        return StoredResource(res_type, res_id, 1, updated_ms, False, content, "POST")

    def update(
        self, resource: dict[str, Any], res_id: str, *, if_match: int | None = None, method: str = "PUT"
    ) -> tuple[StoredResource, bool]:
        """Store a new version; creates the resource with this id when it does not exist yet.

        Returns the stored version and whether it was created. ``if_match`` demands the current
        version (412 otherwise). The row lock makes concurrent updates queue, never lose a write.
        """
        res_type = resource["resourceType"]
        head = self._lock_head(res_type, res_id)
        if head is None:
            if if_match is not None:
                raise outcome.precondition_failed(f"{res_type}/{res_id} does not exist (If-Match: {if_match})")
            try:
                return self.create(resource, res_id), True
            except ResourceExists:
                head = self._lock_head(res_type, res_id)  # lost a race with a concurrent create
                if head is None:
                    raise
        rid, version, previous_ms, deleted = head
        if if_match is not None and if_match != version:
            raise outcome.precondition_failed(
                f"{res_type}/{res_id} is at version {version}, not {if_match} (If-Match)"
            )
        new_version = version + 1
        updated_ms = next_updated_ms(previous_ms, now_ms())
        content = stamp(resource, res_id, new_version, updated_ms)
        self.conn.execute(SET_HEAD, (new_version, updated_ms, rid))
        insert_versions(self.conn, [(rid, new_version, res_type, res_id, updated_ms, method, content)])
        if not deleted:
            delete_index(self.conn, [rid])
        self._insert_index(rid, res_type, resource)
        self._written([Write(res_type, res_id, new_version, resource)])
        return StoredResource(res_type, res_id, new_version, updated_ms, False, content, method), bool(deleted)

    def delete(self, res_type: str, res_id: str, *, if_match: int | None = None) -> StoredResource | None:
        """Delete (a new version marked deleted); None when there is nothing to delete.

        ``if_match`` demands the current version, checked under the row lock (412 otherwise).
        """
        head = self._lock_head(res_type, res_id)
        if if_match is not None and (head is None or head[1] != if_match):
            raise outcome.precondition_failed(f"{res_type}/{res_id} is not at version {if_match} (If-Match)")
        if head is None:
            return None
        rid, version, previous_ms, deleted = head
        if deleted:
            return None
        new_version = version + 1
        updated_ms = next_updated_ms(previous_ms, now_ms())
        self.conn.execute(
            "UPDATE resource SET version = ?, updated_ms = ?, deleted = 1 WHERE rid = ?",
            (new_version, updated_ms, rid),
        )
        insert_versions(self.conn, [(rid, new_version, res_type, res_id, updated_ms, "DELETE", None)])
        delete_index(self.conn, [rid])
        self._written([Write(res_type, res_id, new_version, None)])
        return StoredResource(res_type, res_id, new_version, updated_ms, True, None, "DELETE")

    def put_many(self, resources: Sequence[dict[str, Any]]) -> list[StoredResource]:
        """Create or update many resources, ids kept, in a few statements: a bulk :meth:`update`.

        Each resource is created under its id when absent (a new id when it has none) and gets a new
        version when present, in the order given, with the invariants of :meth:`update`. Raises
        :class:`~samen.store.batch.BatchError`, carrying the position of a resource that cannot be
        stored, and leaves nothing of the batch behind. Returns the version stored for each resource.
        """
        stored = batch.put_many(self.conn, self.store.indexer, resources)
        if self.store.observers:
            self._written([Write(s.res_type, s.res_id, s.version, r) for s, r in zip(stored, resources)])
        return stored

    # -- internals --------------------------------------------------------------------------

    def _lock_head(self, res_type: str, res_id: str) -> tuple[int, int, int, int] | None:
        rows = self.conn.execute(self._lock_head_sql, (res_type, res_id))
        return rows[0] if rows else None

    def _written(self, writes: Sequence[Write]) -> None:
        for observer in self.store.observers:
            observer(self, writes)

    def _insert_index(self, rid: int, res_type: str, resource: dict[str, Any]) -> None:
        insert_index(self.conn, index_table_rows(rid, res_type, self.store.indexer.index(resource)))
