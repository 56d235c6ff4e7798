"""FHIR Bulk Data export (Bulk Data Access IG v2) as jobs in the ``bulk_job`` table; no HTTP here.

A job is one row of ``bulk_job``, so every worker process sees its status and it survives restarts:

- ``status``: ``in-progress`` -> ``completed`` | ``failed``; ``cancelled`` while a running job is
  being stopped (the job is gone for clients from then on; the row is removed once it has stopped).
- ``request``: the parsed kick-off (:class:`ExportRequest`, JSON), so any process can run the job.
- ``transaction_ms``: the export's ``transactionTime``, chosen at kick-off.
- ``progress``: the running job's heartbeat, JSON ``{"owner", "run", "beat", "text"}``. Every
  change to a running job is a compare-and-swap on this exact value: whoever wrote it last owns
  the job, and a runner that finds it changed (cancelled, taken over) stops.
- ``result``: the completion manifest (JSON); ``error``: why a job failed.

The work runs in a background thread of the process that took the kick-off. It reads in pages of
:data:`PAGE_SIZE` resources, each in a short read-only session of its own (no long transaction),
and writes one ndjson file per resource type to ``<bulk_dir>/<job id>/<Type>.ndjson`` (first as
``.part`` files, renamed when the job completes).

Consistency without a long transaction: the store keeps every version, so the job exports, for
each resource, the version that was current at ``transactionTime`` (the newest version written at
or before it, unless that version is a deletion). Writes made while the job runs do not change
its output, and a job that is run again produces the same files.

Crashed processes: a job whose runner is gone is *picked up again*, from the start and with the
same ``transactionTime`` (so with the same result): at node start when its owner was a process on
this host that no longer exists, and by any node (at start or when a client polls its status) when
its heartbeat is older than :data:`STALE_MS`. A job whose runners died :data:`MAX_ATTEMPTS` times
is marked failed instead.

Known limits: Patient compartment membership is judged by the current search index, not as of
``transactionTime``; writes still in flight (stamped but not committed) at ``transactionTime``
may be missed; ``_typeFilter``, ``_elements``, ``patient`` and deleted-resource reporting are not
supported (400).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from samen.fhir import outcome
from samen.fhir.model import Model
from samen.fhir.primitives import date_range, ms_to_instant, now_ms
from samen.settings import Settings
from samen.store.store import Session, Store

log = structlog.get_logger("samen.bulk")

IN_PROGRESS, COMPLETED, FAILED, CANCELLED = "in-progress", "completed", "failed", "cancelled"
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
UNSUPPORTED_PARAMS = frozenset(
    {"_typeFilter", "_elements", "patient", "includeAssociatedData", "organizeOutputBy", "allowPartialManifests"}
)
PAGE_SIZE = 1000
ID_CHUNK = 500  # ids or rids per IN (...) list
STALE_MS = 120_000  # a running job whose heartbeat is older than this is taken over
MAX_ATTEMPTS = 3  # runs of one job (the first and the resumptions) before it is marked failed
HEARTBEAT_MS = 1_000
VISIBLE_WAIT_S = 60.0  # how long a new runner waits for the kick-off transaction to commit
_EARLIEST = -(2**62)
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")

_NEWEST_AT = (
    "v.content IS NOT NULL AND NOT EXISTS (SELECT 1 FROM resource_version n "
    "WHERE n.rid = v.rid AND n.version > v.version AND n.updated_ms <= ?)"
)


# -- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """A validated kick-off: what to export, as stored with the job."""

    level: str  # "system", "patient" or "group"
    url: str  # the kick-off URL, for the manifest's "request"
    base_url: str  # the base URL of the kick-off (absolute references to it count as local)
    types: tuple[str, ...] = ()  # empty: every type that applies
    since_ms: int | None = None  # only resources last updated after this
    group_id: str | None = None
    patients: tuple[str, ...] | None = None  # a patient-bound caller's export: only these Patients' compartments
    owner: str = ""  # who may follow the job and fetch its files (a digest of the caller); "": open access

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> ExportRequest:
        raw = orjson.loads(text)
        raw["types"] = tuple(raw.get("types") or ())
        if raw.get("patients") is not None:
            raw["patients"] = tuple(raw["patients"])
        return cls(**raw)


def compartment_types(model: Model) -> list[str]:
    """The resource types a Patient or Group export covers: the Patient compartment."""
    return sorted({t for t, params in model.patient_compartment.items() if params} | {"Patient"})


def parse_request(
    model: Model,
    level: str,
    params: Sequence[tuple[str, str]],
    *,
    url: str,
    base_url: str,
    group_id: str | None = None,
    strict: bool = False,
) -> ExportRequest:
    """Validate the kick-off parameters; 400 for anything this node cannot honour."""
    types: list[str] = []
    since: str | None = None
    for name, value in params:
        if name == "_outputFormat":
            if value not in OUTPUT_FORMATS:
                raise outcome.bad_request(
                    f"_outputFormat '{value}' is not supported; this node exports {NDJSON} only", "not-supported"
                )
        elif name == "_type":
            types += [t.strip() for t in value.split(",") if t.strip()]
        elif name == "_since":
            since = value
        elif name in UNSUPPORTED_PARAMS:
            raise outcome.bad_request(f"The export parameter {name} is not supported by this node", "not-supported")
        elif strict:
            raise outcome.bad_request(f"Unknown export parameter '{name}'", "not-supported")
    allowed = set(model.resource_types) if level == "system" else set(compartment_types(model))
    for res_type in types:
        if res_type not in model.resource_types:
            raise outcome.bad_request(f"_type: unknown resource type '{res_type}'", "not-supported")
        if res_type not in allowed:
            raise outcome.bad_request(f"_type: {res_type} is not in the Patient compartment", "not-supported")
    since_ms = None
    if since is not None:
        try:
            since_ms = date_range(since)[0]
        except ValueError as error:
            raise outcome.bad_request(f"_since must be a FHIR instant: {error}") from error
    return ExportRequest(level, url, base_url, tuple(dict.fromkeys(types)), since_ms, group_id)


# -- jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    job_id: str
    status: str
    request: ExportRequest
    created_ms: int
    transaction_ms: int
    progress: str | None
    result: bytes | None
    error: str | None

    @property
    def heartbeat(self) -> dict[str, Any]:
        try:
            return orjson.loads(self.progress or "{}")
        except orjson.JSONDecodeError:
            return {}

    @property
    def progress_text(self) -> str:
        return str(self.heartbeat.get("text") or "in progress")

    def manifest(self, base_url: str) -> dict[str, Any]:
        """The completion manifest, with file URLs on ``base_url`` (the base the client asked on)."""
        manifest = orjson.loads(self.result or b"{}")
        manifest["output"] = [
            {"type": entry["type"], "url": file_url(base_url, self.job_id, entry["file"]), "count": entry["count"]}
            for entry in manifest.get("output", [])
        ]
        return manifest

    def file_names(self) -> set[str]:
        return {entry["file"] for entry in orjson.loads(self.result or b"{}").get("output", [])}


_JOB_COLUMNS = "job_id, status, request, created_ms, transaction_ms, progress, result, error"


def load_job(session: Session, job_id: str) -> Job | None:
    rows = session.conn.execute(f"SELECT {_JOB_COLUMNS} FROM bulk_job WHERE job_id = ?", (job_id,))
    return _job(rows[0]) if rows else None


def _job(row: tuple) -> Job:
    job_id, status, request, created_ms, transaction_ms, progress, result, error = row
    return Job(
        job_id, status, ExportRequest.from_json(request), created_ms, transaction_ms, progress,
        bytes(result) if result is not None else None, error,
    )


class Superseded(Exception):
    """The job was cancelled, removed or taken over by another runner."""


@dataclass(frozen=True)
class NewJob:
    job_id: str
    token: str  # the heartbeat its runner starts from


class Exporter:
    """Runs the export jobs of one node process."""

    def __init__(
        self, store: Store, settings: Settings, *, page_size: int = PAGE_SIZE, stale_ms: int = STALE_MS
    ) -> None:
        self.store = store
        self.model = store.model
        self.directory = Path(settings.bulk_dir)
        self.page_size = page_size
        self.stale_ms = stale_ms
        self.host = process_space()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # -- used by the operations ---------------------------------------------------------------

    def create(self, session: Session, request: ExportRequest) -> NewJob:
        """Record a new job in ``session``; :meth:`start` it once the caller is sure to commit."""
        job_id = str(uuid.uuid4())
        token = self._token("accepted", run=uuid.uuid4().hex)
        now = now_ms()
        session.conn.execute(
            "INSERT INTO bulk_job (job_id, status, request, created_ms, transaction_ms, progress) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, IN_PROGRESS, request.to_json(), now, now, token),
        )
        return NewJob(job_id, token)

    def start(self, job: NewJob) -> None:
        """Run the job in a background thread; it waits until the kick-off transaction is visible."""
        self._spawn(job.job_id, job.token, wait_visible=True)

    def cancel(self, session: Session, job_id: str) -> bool:
        """Stop and forget a job; False when there is no such job (for clients)."""
        conn = session.conn
        if conn.execute(
            "UPDATE bulk_job SET status = ? WHERE job_id = ? AND status = ? RETURNING job_id",
            (CANCELLED, job_id, IN_PROGRESS),
        ):
            return True  # its runner notices at its next heartbeat, removes its files and the row
        if conn.execute(
            "DELETE FROM bulk_job WHERE job_id = ? AND status IN (?, ?) RETURNING job_id", (job_id, COMPLETED, FAILED)
        ):
            shutil.rmtree(self.directory / job_id, ignore_errors=True)
            return True
        return False

    def file_path(self, job: Job, name: str) -> Path | None:
        """The path of one output file of a completed job (None for names it did not produce)."""
        if job.status != COMPLETED or name not in job.file_names():
            return None
        path = self.directory / job.job_id / name
        return path if path.is_file() else None

    def adopt_if_orphaned(self, job: Job) -> bool:
        """Take over a running job whose runner is gone (see the module notes); True if taken."""
        if job.status != IN_PROGRESS or not self.is_orphaned(job):
            return False
        attempt = int(job.heartbeat.get("attempt") or 1) + 1
        token = self._token("resumed after its runner stopped", run=uuid.uuid4().hex, attempt=attempt)
        status, error = IN_PROGRESS, None
        if attempt > MAX_ATTEMPTS:  # something in this job brings its runners down: stop trying
            status, error = FAILED, f"The export was interrupted {MAX_ATTEMPTS} times and has been given up"
        with self.store.session(write=True) as session:
            claimed = session.conn.execute(
                "UPDATE bulk_job SET progress = ?, status = ?, error = ? "
                "WHERE job_id = ? AND status = ? AND progress = ? RETURNING job_id",
                (token, status, error, job.job_id, IN_PROGRESS, job.progress),
            )
        if claimed and status == FAILED:
            log.error("bulk export job given up", job=job.job_id, attempts=MAX_ATTEMPTS)
            shutil.rmtree(self.directory / job.job_id, ignore_errors=True)
        elif claimed:
            log.warning("bulk export job taken over", job=job.job_id, previous=job.heartbeat.get("owner"))
            self._spawn(job.job_id, token, wait_visible=False)
        return bool(claimed)

    def recover(self) -> None:
        """At node start: resume orphaned running jobs, finish off orphaned cancellations."""
        with self.store.session(write=False) as session:
            rows = session.conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM bulk_job WHERE status IN (?, ?)", (IN_PROGRESS, CANCELLED)
            )
        for job in map(_job, rows):
            if not self.is_orphaned(job):
                continue
            if job.status == IN_PROGRESS:
                self.adopt_if_orphaned(job)
            else:
                with self.store.session(write=True) as session:
                    session.conn.execute(
                        "DELETE FROM bulk_job WHERE job_id = ? AND status = ? AND progress = ?",
                        (job.job_id, CANCELLED, job.progress),
                    )
                shutil.rmtree(self.directory / job.job_id, ignore_errors=True)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for this process's runners (tests and orderly shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads.values())
            if not threads:
                return
            for thread in threads:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if deadline is not None and time.monotonic() >= deadline:
                return

    # -- runners ------------------------------------------------------------------------------

    def _token(self, text: str, *, run: str, attempt: int = 1) -> str:
        heartbeat = {"owner": self.owner, "run": run, "attempt": attempt, "beat": now_ms(), "text": text}
        return orjson.dumps(heartbeat).decode()

    def is_orphaned(self, job: Job) -> bool:
        """Whether ``job`` runs but its runner is gone (silent too long, or its process died)."""
        beat = job.heartbeat
        if now_ms() - int(beat.get("beat") or 0) > self.stale_ms:
            return True
        owner = str(beat.get("owner", "")).rsplit(":", 2)
        if len(owner) != 3:
            return False
        space, pid, _ = owner
        return space == self.host and pid.isdigit() and not _process_alive(int(pid))

    def _spawn(self, job_id: str, token: str, *, wait_visible: bool) -> None:
        thread = threading.Thread(
            target=self._run, args=(job_id, token, wait_visible), name=f"bulk-export-{job_id[:8]}", daemon=True
        )
        with self._lock:
            self._threads[job_id] = thread
        thread.start()

    def _run(self, job_id: str, token: str, wait_visible: bool) -> None:
        run: _Run | None = None
        try:
            job = self._await(job_id, token, VISIBLE_WAIT_S if wait_visible else 0.0)
            if job is None:
                return
            run = _Run(self, job, token)
            run.execute()
            log.info("bulk export job completed", job=job_id, resources=run.written)
        except Superseded:
            if run is not None:
                run.abandon()
        except Exception as error:
            if _interrupted(error):
                log.warning("bulk export job interrupted by shutdown; it resumes at the next start", job=job_id)
                return
            log.exception("bulk export job failed", job=job_id)
            if run is not None:
                message = error.message if isinstance(error, outcome.FhirError) else f"{type(error).__name__}: {error}"
                run.fail(message)
        finally:
            with self._lock:
                if self._threads.get(job_id) is threading.current_thread():
                    del self._threads[job_id]

    def _await(self, job_id: str, token: str, wait_s: float) -> Job | None:
        """The job once its row (with our token) is visible; None if it never is, or is not ours."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.store.session(write=False) as session:
                job = load_job(session, job_id)
            if job is not None:
                return job if job.status == IN_PROGRESS and job.progress == token else None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


class _Run:
    """One attempt at one job."""

    def __init__(self, exporter: Exporter, job: Job, token: str) -> None:
        self.exporter = exporter
        self.store = exporter.store
        self.model = exporter.model
        self.job = job
        self.request = job.request
        self.token = token
        heartbeat = orjson.loads(token)
        self.run_id = heartbeat["run"]
        self.attempt = int(heartbeat.get("attempt") or 1)
        self.folder = exporter.directory / job.job_id
        self.tx = job.transaction_ms
        self.since = job.request.since_ms if job.request.since_ms is not None else _EARLIEST
        self.written = 0
        self.last_beat = 0

    # -- the work -----------------------------------------------------------------------------

    def execute(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("*.part"):  # left by an earlier, crashed attempt
            stale.unlink(missing_ok=True)
        self.beat("starting", force=True)
        members = self._group_members() if self.request.level == "group" else self._bound_patients()
        types = self._types()
        outputs: list[tuple[str, int, Path]] = []
        for number, res_type in enumerate(types, 1):
            part = self.folder / f"{res_type}.ndjson.{self.run_id}.part"
            count = 0
            with open(part, "wb") as handle:
                for page in self._pages(res_type, members):
                    handle.write(b"".join(content + b"\n" for content in page))
                    count += len(page)
                    self.written += len(page)
                    self.beat(f"{res_type} ({number} of {len(types)} types), {self.written} resources written")
            if count:
                outputs.append((res_type, count, part))
            else:
                part.unlink()
        for res_type, _, part in outputs:
            os.replace(part, self.folder / f"{res_type}.ndjson")
        self._complete(self._manifest([(res_type, count) for res_type, count, _ in outputs]))

    def _types(self) -> list[str]:
        """The types to export that have any data at transactionTime."""
        if self.request.types:
            candidates = list(self.request.types)
        elif self.request.level == "system":
            candidates = sorted(self.model.resource_types)
        else:
            candidates = compartment_types(self.model)
        with self.store.session(write=False) as session:
            return [
                res_type
                for res_type in candidates
                if session.conn.execute(
                    "SELECT 1 FROM resource_version WHERE res_type = ? AND updated_ms <= ? AND updated_ms > ? LIMIT 1",
                    (res_type, self.tx, self.since),
                )
            ]

    def _pages(self, res_type: str, members: list[str] | None) -> Iterator[list[bytes]]:
        if members is not None:
            yield from self._member_pages(res_type, members)
        elif self.request.level == "patient" and res_type != "Patient":
            yield from self._scan(res_type, self.model.compartment_params(res_type))
        else:
            yield from self._scan(res_type, None)

    def _scan(self, res_type: str, compartment_params: list[str] | None) -> Iterator[list[bytes]]:
        """Every resource of a type as of transactionTime, in pages along the (res_type, updated_ms) index.

        Versions written at or before transactionTime never change, so paging on updated_ms is
        stable. The order is exactly the index's (no sort, whatever the planner's statistics say);
        a page that ends inside a run of equal timestamps takes the whole run, so that the next
        page can start strictly after it. With ``compartment_params``, only resources that refer to
        a Patient through one of them are kept (checked per page by rid, so that no plan can turn
        the check into a scan of the whole reference index per page).
        """
        select = (
            "SELECT v.updated_ms, v.rid, v.content FROM resource_version v WHERE v.res_type = ? "
            f"AND v.updated_ms <= ? AND v.updated_ms {{}} ? AND {_NEWEST_AT}"
        )
        page_sql = select.format(">") + " ORDER BY v.updated_ms LIMIT ?"
        run_sql = select.format("=")
        size = self.exporter.page_size
        cursor: int | None = self.since
        while cursor is not None:
            with self._reading() as session:
                rows = session.conn.execute(page_sql, (res_type, self.tx, cursor, self.tx, size))
                if len(rows) == size:
                    cursor = rows[-1][0]
                    rows = [row for row in rows if row[0] != cursor]
                    rows += session.conn.execute(run_sql, (res_type, self.tx, cursor, self.tx))
                else:
                    cursor = None
                if compartment_params is not None and rows:
                    members = self._in_compartment(session, [rid for _, rid, _ in rows], compartment_params)
                    rows = [row for row in rows if row[1] in members]
            if rows:
                yield [content for _, _, content in rows]

    def _in_compartment(self, session: Session, rids: list[int], params: list[str]) -> set[int]:
        """Those of ``rids`` that refer to some Patient through one of ``params``."""
        found: set[int] = set()
        if not params:
            return found
        for chunk in _chunks(rids, ID_CHUNK):
            rows = session.conn.execute(
                f"SELECT DISTINCT rid FROM idx_reference WHERE rid IN ({_marks(chunk)}) "
                f"AND target_type = 'Patient' AND param IN ({_marks(params)})",
                [*chunk, *params],
            )
            found.update(rid for (rid,) in rows)
        return found

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A short read-only session; on PostgreSQL planned for the actual values of each page.

        Prepared statements otherwise switch to a generic plan after a few pages, and a generic
        plan for ``updated_ms > $n ... LIMIT`` may sort the whole remaining table on every page.
        """
        with self.store.session(write=False) as session:
            session.conn.plan_each_statement()
            yield session

    def _member_pages(self, res_type: str, members: list[str]) -> Iterator[list[bytes]]:
        """The compartments of a Group's members, a chunk of members at a time, without duplicates."""
        params = ["link"] if res_type == "Patient" else self.model.compartment_params(res_type)
        seen: set[int] = set()
        for chunk in _chunks(members, ID_CHUNK):
            with self._reading() as session:
                rids: set[int] = set()
                if res_type == "Patient":
                    rows = session.conn.execute(
                        f"SELECT rid FROM resource WHERE res_type = 'Patient' AND res_id IN ({_marks(chunk)})", chunk
                    )
                    rids.update(rid for (rid,) in rows)
                if params:
                    rows = session.conn.execute(
                        f"SELECT DISTINCT rid FROM idx_reference WHERE target_id IN ({_marks(chunk)}) "
                        f"AND target_type = 'Patient' AND res_type = ? AND param IN ({_marks(params)})",
                        [*chunk, res_type, *params],
                    )
                    rids.update(rid for (rid,) in rows)
                rids -= seen
                seen |= rids
                pages = [self._snapshot(session, part) for part in _chunks(sorted(rids), self.exporter.page_size)]
            for page in pages:
                if page:
                    yield page

    def _snapshot(self, session: Session, rids: list[int]) -> list[bytes]:
        """The versions of these resources current at transactionTime (and changed since _since)."""
        contents: list[bytes] = []
        for chunk in _chunks(rids, ID_CHUNK):
            rows = session.conn.execute(
                f"SELECT v.content FROM resource_version v WHERE v.rid IN ({_marks(chunk)}) "
                f"AND v.updated_ms <= ? AND v.updated_ms > ? AND {_NEWEST_AT} ORDER BY v.rid",
                [*chunk, self.tx, self.since, self.tx],
            )
            contents += [content for (content,) in rows]
        return contents

    def _bound_patients(self) -> list[str] | None:
        """The Patients a patient-bound export covers (None: not bound; every patient of its level)."""
        return list(self.request.patients) if self.request.patients is not None else None

    def _group_members(self) -> list[str]:
        """The ids of the Patients the Group (as of transactionTime) has as active members."""
        group_id = self.request.group_id
        with self.store.session(write=False) as session:
            rows = session.conn.execute(
                "SELECT v.content FROM resource r JOIN resource_version v ON v.rid = r.rid "
                f"WHERE r.res_type = 'Group' AND r.res_id = ? AND v.updated_ms <= ? AND {_NEWEST_AT}",
                (group_id, self.tx, self.tx),
            )
        if not rows:
            raise outcome.not_found(f"Group/{group_id} did not exist at the export's transactionTime")
        group = orjson.loads(rows[0][0])
        base = self.request.base_url.rstrip("/") + "/"
        members: dict[str, None] = {}
        for member in group.get("member") or []:
            if not isinstance(member, dict) or member.get("inactive") is True:
                continue
            reference = (member.get("entity") or {}).get("reference")
            if not isinstance(reference, str):
                continue
            if reference.startswith(("http://", "https://")) and not reference.startswith(base):
                continue  # a Patient on another server has no data here
            match = _PATIENT_REF.search(reference.removeprefix(base))
            if match:
                members[match.group(1)] = None
        return list(members)

    def _manifest(self, outputs: list[tuple[str, int]]) -> dict[str, Any]:
        """The manifest as stored: file names instead of URLs (see :meth:`Job.manifest`)."""
        return {
            "transactionTime": ms_to_instant(self.tx),
            "request": self.request.url,
            "requiresAccessToken": bool(self.request.owner),
            "output": [
                {"type": res_type, "file": f"{res_type}.ndjson", "count": count} for res_type, count in outputs
            ],
            "error": [],
        }

    # -- the job row --------------------------------------------------------------------------

    def beat(self, text: str, *, force: bool = False) -> None:
        """Heartbeat and progress; raises :class:`Superseded` when the job is no longer ours."""
        if not force and now_ms() - self.last_beat < HEARTBEAT_MS:
            return
        token = self.exporter._token(text, run=self.run_id, attempt=self.attempt)
        self._swap("progress = ?", [token])
        self.token = token
        self.last_beat = now_ms()

    def _complete(self, manifest: dict[str, Any]) -> None:
        token = self.exporter._token("completed", run=self.run_id, attempt=self.attempt)
        self._swap("status = ?, result = ?, progress = ?", [COMPLETED, orjson.dumps(manifest), token])

    def fail(self, message: str) -> None:
        self._remove_parts()
        try:
            self._swap("status = ?, error = ?", [FAILED, message[:4000]])
        except Superseded:
            self.abandon()
        except Exception:  # the database itself is failing: the job is resumed later
            log.exception("could not record the failure of a bulk export job", job=self.job.job_id)

    def abandon(self) -> None:
        """After losing the job: clean up what this attempt wrote, and a cancelled job altogether."""
        self._remove_parts()
        with self.store.session(write=True) as session:
            job = load_job(session, self.job.job_id)
            if job is None or job.status == CANCELLED:
                session.conn.execute(
                    "DELETE FROM bulk_job WHERE job_id = ? AND status = ?", (self.job.job_id, CANCELLED)
                )
                shutil.rmtree(self.folder, ignore_errors=True)

    def _swap(self, assignments: str, args: list[Any]) -> None:
        with self.store.session(write=True) as session:
            swapped = session.conn.execute(
                f"UPDATE bulk_job SET {assignments} WHERE job_id = ? AND status = ? AND progress = ? RETURNING job_id",
                [*args, self.job.job_id, IN_PROGRESS, self.token],
            )
        if not swapped:
            raise Superseded(self.job.job_id)

    def _remove_parts(self) -> None:
        for part in self.folder.glob(f"*.{self.run_id}.part"):
            part.unlink(missing_ok=True)


# -- small helpers -------------------------------------------------------------------------------


def status_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/$export-status?job={job_id}"


def file_url(base_url: str, job_id: str, name: str) -> str:
    return f"{base_url}/$export-file?job={job_id}&file={name}"


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def process_space() -> str:
    """Where process ids mean the same thing: the host name plus the PID namespace (containers)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}{namespace}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _interrupted(error: BaseException) -> bool:
    """Whether a runner failed because its node is shutting down (the database was closed)."""
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in str(error):
        return True
    try:
        from psycopg_pool import PoolClosed
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, PoolClosed)
