"""``samen import``: load ndjson files and batch/transaction Bundles into a node's database.

- ``.ndjson``: one resource per line. Ids are kept: each line is a create-or-update of
  ``Type/id`` (a line without an id gets a new one), like ``PUT Type/id``. Lines are checked like
  REST writes (:func:`~samen.fhir.structure.check_resource`) and written in batches: one head lookup,
  one multi-row insert and one ``executemany`` per index table for :data:`BATCH_SIZE` resources.
- ``.json``: a ``transaction`` or ``batch`` Bundle. Bundles of plain creates and updates
  (``POST Type``, ``PUT Type/id``: what exports and generators such as Synthea write) are written in
  batches like ndjson, after the same id assignment and reference rewriting as ``POST [base]``; any
  other Bundle is processed by the same code as ``POST [base]``. Here a batch is all-or-nothing
  too: a failed entry fails the file.

All or nothing per file: each file is imported in one database transaction; a bad line rolls the
whole file back and is reported with its line number (or Bundle entry), and the import goes on
with the next file.

Resumable: a file's import is recorded in the table ``bulk_import`` (keyed by the SHA-256 of its
content), in the same transaction as its resources, so a file is either imported and recorded or
neither. Running the command again skips recorded files (``--force`` imports them again). The table
is made on first use (``CREATE TABLE IF NOT EXISTS``).

After an import, PostgreSQL's planner statistics are refreshed (``ANALYZE``): until autovacuum
catches up, plans made for an empty database can be very slow on the imported data.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from samen.api.bundles import _rewrite_references, process_bundle  # the same reference rules as POST [base]
from samen.api.messages import FhirRequest
from samen.api.router import Router
from samen.fhir import outcome
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.fhir.structure import check_resource
from samen.settings import Settings
from samen.store.rows import COLUMNS
from samen.store.schema import INDEX_TABLES
from samen.store.store import Session, Store

BATCH_SIZE = 1000
NDJSON_SUFFIXES = (".ndjson",)
BUNDLE_SUFFIXES = (".json",)
_IN_CHUNK = 500  # values per IN (...) list / rows per multi-row INSERT

RECORD_TABLE = """
CREATE TABLE IF NOT EXISTS bulk_import (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    resources INTEGER NOT NULL,
    finished_ms BIGINT NOT NULL
)
"""

_VERSION_COLUMNS = ("rid", "version", "res_type", "res_id", "updated_ms", "method", "content")
_TABLE_COLUMNS = {"resource_version": _VERSION_COLUMNS} | {
    table: ("rid", "res_type", *columns) for table, columns in COLUMNS.items()
}
_PG_FLOAT_TABLES = ("idx_number", "idx_quantity")


class LineError(Exception):
    """A file cannot be imported; ``where`` is ``line N`` or ``Bundle.entry[N]`` when known."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    digest: str  # SHA-256 of the content: the key of the import record
    kind: str  # "ndjson" or "bundle"
    size_hint: int  # lines (ndjson) or entries (bundle), for the progress bar


@dataclass
class FileResult:
    path: Path
    status: str  # "imported", "skipped" or "failed"
    resources: int = 0
    error: str | None = None


def find_files(paths: Iterable[Path]) -> list[Path]:
    """The importable files under ``paths`` (files as given, directories searched recursively, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            suffixes = (*NDJSON_SUFFIXES, *BUNDLE_SUFFIXES)
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


class Importer:
    def __init__(self, store: Store, settings: Settings, *, batch_size: int = BATCH_SIZE, force: bool = False) -> None:
        self.store = store
        self.model = store.model
        self.settings = settings
        self.base_url = settings.base_url
        self.batch_size = batch_size
        self.force = force
        with store.session(write=True) as session:
            session.lock("samen-bulk-import-table")
            session.conn.execute(RECORD_TABLE)

    # -- planning -----------------------------------------------------------------------------

    def plan(self, path: Path) -> PlannedFile:
        """Hash the file and estimate its size; raises :class:`LineError` for unknown file kinds."""
        suffix = path.suffix.lower()
        if suffix in NDJSON_SUFFIXES:
            kind = "ndjson"
        elif suffix in BUNDLE_SUFFIXES:
            kind = "bundle"
        else:
            raise LineError(f"not an .ndjson or .json file: {path.name}")
        digest = hashlib.sha256()
        lines, last = 0, b"\n"
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1
        if kind == "bundle":
            try:
                lines = len(orjson.loads(path.read_bytes()).get("entry") or [])
            except (orjson.JSONDecodeError, AttributeError):
                lines = 0  # reported when the file is imported
        return PlannedFile(path, digest.hexdigest(), kind, lines)

    def is_recorded(self, digest: str) -> bool:
        with self.store.session(write=False) as session:
            return bool(session.conn.execute("SELECT 1 FROM bulk_import WHERE digest = ?", (digest,)))

    # -- importing ----------------------------------------------------------------------------

    def import_file(self, planned: PlannedFile, progress: Callable[[int], None] = lambda n: None) -> FileResult:
        """Import one file in one transaction; never raises for bad content (see the result)."""
        try:
            with self.store.session(write=True) as session:
                session.lock(f"bulk-import:{planned.digest}")
                if not self.force and session.conn.execute(
                    "SELECT 1 FROM bulk_import WHERE digest = ?", (planned.digest,)
                ):
                    return FileResult(planned.path, "skipped")
                if planned.kind == "ndjson":
                    count = self._ndjson(session, planned.path, progress)
                else:
                    count = self._bundle(session, planned.path, progress)
                self._record(session, planned, count)
        except LineError as error:
            return FileResult(planned.path, "failed", error=str(error))
        except outcome.FhirError as error:
            return FileResult(planned.path, "failed", error=error.message)
        except Exception as error:  # a database error: this file is rolled back, the others may still go
            return FileResult(planned.path, "failed", error=f"{type(error).__name__}: {error}")
        return FileResult(planned.path, "imported", count)

    def refresh_statistics(self) -> None:
        """After a large import on PostgreSQL: ANALYZE, so the planner knows the new data at once."""
        with self.store.session(write=True) as session:
            if session.conn.dialect.name == "postgres":
                session.conn.execute("ANALYZE")

    def _record(self, session: Session, planned: PlannedFile, count: int) -> None:
        conn = session.conn
        conn.execute("DELETE FROM bulk_import WHERE digest = ?", (planned.digest,))
        conn.execute(
            "INSERT INTO bulk_import (digest, name, resources, finished_ms) VALUES (?, ?, ?, ?)",
            (planned.digest, str(planned.path), count, now_ms()),
        )

    def _ndjson(self, session: Session, path: Path, progress: Callable[[int], None]) -> int:
        writer = BatchWriter(session)
        batch: list[tuple[int, dict[str, Any]]] = []
        count = 0
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    resource = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    raise LineError(f"not valid JSON ({error})", f"line {number}") from error
                try:
                    check_resource(self.model, resource)
                except outcome.FhirError as error:
                    raise LineError(error.message, f"line {number}") from error
                batch.append((number, resource))
                if len(batch) >= self.batch_size:
                    writer.write(batch)
                    count += len(batch)
                    progress(len(batch))
                    batch = []
        if batch:
            writer.write(batch)
            count += len(batch)
            progress(len(batch))
        return count

    def _bundle(self, session: Session, path: Path, progress: Callable[[int], None]) -> int:
        try:
            bundle = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as error:
            raise LineError(f"not valid JSON ({error})") from error
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") not in (
            "batch",
            "transaction",
        ):
            raise LineError("a .json file must hold a batch or transaction Bundle")
        router = Router(_SessionStore(self.store, session), self.model, self.settings)  # type: ignore[arg-type]
        written = self._plain_bundle(session, router, bundle)
        if written is not None:
            progress(written)
            return written
        response = process_bundle(router, FhirRequest("POST", "", body=bundle, base_url=self.base_url))
        assert isinstance(response.body, bytes)
        entries = orjson.loads(response.body).get("entry") or []
        for index, entry in enumerate(entries):
            status = entry.get("response", {}).get("status", "")
            if not status.startswith("2"):
                issues = (entry["response"].get("outcome") or {}).get("issue") or [{}]
                raise LineError(f"{status}: {issues[0].get('diagnostics', '')}", f"Bundle.entry[{index}]")
        progress(len(entries))
        return len(entries)

    def _plain_bundle(self, session: Session, router: Router, bundle: dict[str, Any]) -> int | None:
        """The fast way for Bundles of plain creates and updates (``POST Type``, ``PUT Type/id``).

        Does what :func:`~samen.api.bundles.process_bundle` does for such entries (new ids for
        creates, ``fullUrl`` references rewritten, conditional references resolved, each resource
        checked) but writes through :class:`BatchWriter`. None when the Bundle has other entries
        (conditional or versioned writes, deletes, patches, reads): those take the general path.
        """
        entries = bundle.get("entry") or []
        if not all(_plain_entry(entry) for entry in entries):
            return None
        plan: list[tuple[int, dict[str, Any]]] = []
        mapping: dict[str, str] = {}
        for index, entry in enumerate(entries):
            resource, method, url = entry["resource"], entry["request"]["method"], entry["request"]["url"]
            res_type = url.split("/")[0]
            try:
                check_resource(self.model, resource, res_type)
            except outcome.FhirError as error:
                raise LineError(error.message, f"Bundle.entry[{index}]") from error
            resource["id"] = str(uuid.uuid4()) if method == "POST" else url.split("/")[1]
            if isinstance(entry.get("fullUrl"), str):
                mapping[entry["fullUrl"]] = f"{res_type}/{resource['id']}"
            plan.append((index, resource))
        request = FhirRequest("POST", "", base_url=self.base_url)
        for index, resource in plan:
            try:
                _rewrite_references(router, session, request, resource, mapping)
            except outcome.FhirError as error:
                raise LineError(error.message, f"Bundle.entry[{index}]") from error
        BatchWriter(session, where="Bundle.entry[{}]").write(plan)
        return len(plan)


def _plain_entry(entry: Any) -> bool:
    """``POST Type`` or ``PUT Type/id`` (with the same id in the resource), nothing conditional."""
    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        return False
    request = entry.get("request")
    if not isinstance(request, dict) or set(request) - {"method", "url"} or not isinstance(request.get("url"), str):
        return False
    segments = request["url"].split("/")
    if "?" in request["url"] or not all(segments):
        return False
    if request.get("method") == "POST":
        return len(segments) == 1
    return request.get("method") == "PUT" and len(segments) == 2 and entry["resource"].get("id") == segments[1]


class _SessionStore:
    """A Store whose sessions are all one given session (for running a Bundle inside a file's transaction)."""

    def __init__(self, store: Store, session: Session) -> None:
        self._store = store
        self._session = session

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        yield self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class BatchWriter:
    """Create-or-update many resources, ids kept, inside one session: a batch in a few statements.

    Keeps the store's invariants (one ``resource`` row per resource at its current version, every
    version in ``resource_version``, index rows for the current version only, ``meta.versionId`` and a
    ``meta.lastUpdated`` that grows per resource); rows are locked as ``Session.update`` locks them.
    """

    def __init__(self, session: Session, where: str = "line {}") -> None:
        self.session = session
        self.where = where  # how to name the position of a resource in errors
        self.conn = session.conn
        self.indexer = session.store.indexer
        self._postgres = self.conn.dialect.name == "postgres"

    def write(self, batch: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Write ``(line number, resource)`` pairs; a key seen twice is written in order."""
        pending: list[tuple[int, dict[str, Any]]] = []
        keys: set[tuple[str, str]] = set()
        for number, resource in batch:
            if not resource.get("id"):
                resource["id"] = str(uuid.uuid4())
            key = (resource["resourceType"], resource["id"])
            if key in keys:
                self._write(pending)
                pending, keys = [], set()
            pending.append((number, resource))
            keys.add(key)
        self._write(pending)

    def _write(self, items: list[tuple[int, dict[str, Any]]]) -> None:
        if not items:
            return
        conn = self.conn
        heads = self._heads(items)
        now = now_ms()
        fresh = [(t, i) for _, r in items if (t := r["resourceType"], i := r["id"]) not in heads]
        created: dict[tuple[str, str], int] = {}
        for chunk in _chunks(fresh, _IN_CHUNK if not self._postgres else max(1, len(fresh))):
            if self._postgres:
                sql = (
                    "INSERT INTO resource (res_type, res_id, version, updated_ms, deleted) "
                    "SELECT t, i, 1, ?, 0 FROM unnest(?::text[], ?::text[]) AS n(t, i)"
                )
                args: list[Any] = [now, [t for t, _ in chunk], [i for _, i in chunk]]
            else:
                sql = "INSERT INTO resource (res_type, res_id, version, updated_ms, deleted) VALUES " + ", ".join(
                    ["(?, ?, 1, ?, 0)"] * len(chunk)
                )
                args = [value for res_type, res_id in chunk for value in (res_type, res_id, now)]
            sql += " ON CONFLICT (res_type, res_id) DO NOTHING RETURNING rid, res_type, res_id"
            rows = conn.execute(sql, args)
            created.update({(res_type, res_id): rid for rid, res_type, res_id in rows})
        versions: list[tuple[Any, ...]] = []
        updates: list[tuple[int, int, int]] = []
        stale_index: list[int] = []
        index_rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        late: list[dict[str, Any]] = []  # created by someone else since the head lookup
        for number, resource in items:
            res_type, res_id = resource["resourceType"], resource["id"]
            head = heads.get((res_type, res_id))
            if head is not None:
                rid, version, previous_ms, deleted = head
                version, updated_ms, method = version + 1, max(now, previous_ms + 1), "PUT"
                updates.append((version, updated_ms, rid))
                if not deleted:
                    stale_index.append(rid)
            elif (res_type, res_id) in created:
                rid, version, updated_ms, method = created[(res_type, res_id)], 1, now, "POST"
            else:
                late.append(resource)
                continue
            content = _stamp(resource, res_id, version, updated_ms)
            versions.append((rid, version, res_type, res_id, updated_ms, method, content))
            try:
                rows = self.indexer.index(resource)
            except Exception as error:  # the indexer drops unreadable values; anything else is a bug to report
                where = self.where.format(number)
                raise LineError(f"cannot be indexed ({type(error).__name__}: {error})", where) from error
            for table, table_rows in rows.by_table().items():
                index_rows[table] += [(rid, res_type, *row) for row in table_rows]
        if updates:
            conn.execute_many("UPDATE resource SET version = ?, updated_ms = ?, deleted = 0 WHERE rid = ?", updates)
        for chunk in _chunks(stale_index, _IN_CHUNK if not self._postgres else max(1, len(stale_index))):
            for table in INDEX_TABLES:
                if self._postgres:
                    conn.execute(f"DELETE FROM {table} WHERE rid = ANY(?::bigint[])", [list(chunk)])
                else:
                    conn.execute(f"DELETE FROM {table} WHERE rid IN ({', '.join('?' * len(chunk))})", chunk)
        self._insert("resource_version", versions)
        for table, table_rows in index_rows.items():
            self._insert(table, table_rows)
        for resource in late:
            self.session.update(resource, resource["id"])

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows: one statement of arrays on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        columns = _TABLE_COLUMNS[table]
        if not self._postgres:
            marks = ", ".join("?" * len(columns))
            self.conn.execute_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        if table == "resource_version":
            rows = [(*row[:-1], "\\x" + row[-1].hex()) for row in rows]
        elif table in _PG_FLOAT_TABLES:
            rows = [(*row[:-2], _json_float(row[-2]), _json_float(row[-1])) for row in rows]
        payload = orjson.dumps([dict(zip(columns, row)) for row in rows]).decode()
        names = ", ".join(columns)
        self.conn.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, ?::json)",
            [payload],
        )

    def _heads(self, items: list[tuple[int, dict[str, Any]]]) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """The current rows of the resources that exist, locked for the rest of the transaction."""
        by_type: dict[str, list[str]] = defaultdict(list)
        for _, resource in items:
            by_type[resource["resourceType"]].append(resource["id"])
        heads: dict[tuple[str, str], tuple[int, int, int, int]] = {}
        select = "SELECT res_id, rid, version, updated_ms, deleted FROM resource WHERE res_type = ? AND "
        for res_type, ids in by_type.items():
            for chunk in _chunks(ids, _IN_CHUNK if not self._postgres else len(ids)):
                if self._postgres:
                    rows = self.conn.execute(select + "res_id = ANY(?::text[]) FOR UPDATE", [res_type, list(chunk)])
                else:
                    rows = self.conn.execute(select + f"res_id IN ({', '.join('?' * len(chunk))})", [res_type, *chunk])
                for res_id, rid, version, updated_ms, deleted in rows:
                    heads[(res_type, res_id)] = (rid, version, updated_ms, deleted)
        return heads


def _json_float(value: float) -> float | str:
    """JSON has no infinities; PostgreSQL reads these strings into a double precision column."""
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


def _stamp(resource: dict[str, Any], res_id: str, version: int, updated_ms: int) -> bytes:
    """Set id, meta.versionId and meta.lastUpdated (in place) and serialise, as the store does."""
    resource["id"] = res_id
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = ms_to_instant(updated_ms)
    resource["meta"] = meta
    return orjson.dumps(resource)


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
