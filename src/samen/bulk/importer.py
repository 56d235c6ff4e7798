"""``samen import``: load ndjson files and batch/transaction Bundles into a node's database.

- ``.ndjson``: one resource per line. Ids are kept: each line is a create-or-update of
  ``Type/id`` (a line without an id gets a new one), like ``PUT Type/id``. Lines are checked like
  REST writes (:class:`~samen.fhir.admission.Admission`) and written :data:`BATCH_SIZE` at a time
  by :meth:`~samen.store.store.Session.put_many`.
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
neither. Running the command again skips recorded files (``--force`` imports them again).

After an import, PostgreSQL's planner statistics are refreshed (``ANALYZE``): until autovacuum
catches up, plans made for an empty database can be very slow on the imported data.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from samen.api.bundles import process_bundle, rewrite_references  # the same reference rules as POST [base]
from samen.api.messages import FhirRequest
from samen.api.router import Router
from samen.fhir import outcome
from samen.fhir.primitives import now_ms
from samen.fhir.admission import Admission
from samen.store.search.codesets import CodeSets
from samen.settings import Settings
from samen.store.batch import BatchError
from samen.store.store import Session, Store

BATCH_SIZE = 1000
NDJSON_SUFFIXES = (".ndjson",)
BUNDLE_SUFFIXES = (".json",)


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
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        admission: Admission | None = None,
        code_sets: CodeSets | None = None,
        batch_size: int = BATCH_SIZE,
        force: bool = False,
    ) -> None:
        self.store = store
        self.model = store.model
        self.admission = admission or Admission(store.model)
        self.code_sets = code_sets  # for conditional references that search with :in, :below, ...
        self.settings = settings
        self.base_url = settings.base_url
        self.batch_size = batch_size
        self.force = force

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
            session.conn.refresh_statistics()

    def _record(self, session: Session, planned: PlannedFile, count: int) -> None:
        conn = session.conn
        conn.execute("DELETE FROM bulk_import WHERE digest = ?", (planned.digest,))
        conn.execute(
            "INSERT INTO bulk_import (digest, name, resources, finished_ms) VALUES (?, ?, ?, ?)",
            (planned.digest, str(planned.path), count, now_ms()),
        )

    def _ndjson(self, session: Session, path: Path, progress: Callable[[int], None]) -> int:
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
                    self.admission.check(resource)
                except outcome.FhirError as error:
                    raise LineError(error.message, f"line {number}") from error
                batch.append((number, resource))
                if len(batch) >= self.batch_size:
                    _put(session, batch, "line {}")
                    count += len(batch)
                    progress(len(batch))
                    batch = []
        if batch:
            _put(session, batch, "line {}")
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
        session_store = _SessionStore(self.store, session)
        router = Router(session_store, self.model, self.settings, self.admission,  # type: ignore[arg-type]
                        code_sets=self.code_sets)
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
        checked) but writes through :meth:`Session.put_many`. None when the Bundle has other entries
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
                self.admission.check(resource, res_type)
            except outcome.FhirError as error:
                raise LineError(error.message, f"Bundle.entry[{index}]") from error
            resource["id"] = str(uuid.uuid4()) if method == "POST" else url.split("/")[1]
            if isinstance(entry.get("fullUrl"), str):
                mapping[entry["fullUrl"]] = f"{res_type}/{resource['id']}"
            plan.append((index, resource))
        request = FhirRequest("POST", "", base_url=self.base_url)
        for index, resource in plan:
            try:
                rewrite_references(router, session, request, resource, mapping)
            except outcome.FhirError as error:
                raise LineError(error.message, f"Bundle.entry[{index}]") from error
        _put(session, plan, "Bundle.entry[{}]")
        return len(plan)


def _put(session: Session, batch: Sequence[tuple[int, dict[str, Any]]], where: str) -> None:
    """Write ``(position, resource)`` pairs; a resource that fails is named by ``where.format(position)``."""
    try:
        session.put_many([resource for _, resource in batch])
    except BatchError as error:
        raise LineError(str(error), where.format(batch[error.index][0])) from error


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
