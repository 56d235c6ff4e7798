"""The audit trail of one node: every access and refusal becomes a hash-chained entry before it is answered.

Two ways in, both giving exactly one entry per access:

- :meth:`AuditTrail.append` in the caller's write transaction: a create, update, delete or transaction
  is committed together with its entries, or neither is;
- :meth:`AuditTrail.record` for everything else (reads, searches, operations, refusals, failed
  writes after their rollback): group commit. A background thread of the process appends what
  concurrent requests handed it in one transaction and commits; each caller waits for the commit of
  its own entry, so an answered request always has a durable entry (a crash loses only requests that
  were never answered). If the entry cannot be written the request fails with 503: no access without
  its record.

One log line per refusal (never with the patient); successes are in the access log only.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import orjson
import structlog

from samen.audit import store as entries
from samen.audit.chain import Entry
from samen.audit.events import Access, audit_event
from samen.fhir.outcome import FhirError
from samen.fhir.primitives import now_ms
from samen.store.db import Database
from samen.store.store import Session

# Benchmark only: "1" leaves the trail out, to measure what it costs (bench/audit_overhead.py). Never in use.
NO_AUDIT_FOR_BENCHMARK = "SAMEN_BENCHMARK_NO_AUDIT"
MAX_BATCH = 512
SIBLING_WAIT_S = 0.002  # how long at most a batch waits for the entries of requests still being served
CHECKPOINT_EVERY_S = 1.0  # SQLite: how often at most the WAL the group commits grow is checkpointed
DAY_S = 86_400

log = structlog.get_logger("samen.audit")


class AuditUnavailable(FhirError):
    """The entry of an access could not be written: the access is not answered."""

    def __init__(self) -> None:
        super().__init__(503, "The audit trail cannot be written; the request was not answered", "transient")


class AuditTrail:
    def __init__(self, database: Database, observer: str, *, enabled: bool = True) -> None:
        """``observer``: the node's base URL (AuditEvent.source); ``enabled=False`` only for benchmarks."""
        self.database = database
        self.observer = observer
        self.enabled = enabled
        self._committer = _GroupCommit(database) if enabled else None

    @classmethod
    def for_node(cls, database: Database, observer: str) -> AuditTrail:
        disabled = os.environ.get(NO_AUDIT_FOR_BENCHMARK) == "1"
        if disabled:
            log.warning(f"{NO_AUDIT_FOR_BENCHMARK}=1: accesses are NOT audited (benchmarks only)")
        return cls(database, observer, enabled=not disabled)

    def record(self, access: Access) -> None:
        """Append the entry of ``access`` durably (group commit) and return once it is committed; inside
        :meth:`deferred`, hand it over and return at once (the caller awaits the commit)."""
        _log_refusal(access)
        if self._committer is None:
            return
        commits = _deferring.get()
        if commits is not None:
            self._committer.hand_over(self.entry(access), commits)
            return
        commits = Commits()
        self._committer.hand_over(self.entry(access), commits)
        commits.wait()

    @contextmanager
    def deferred(self, commits: Commits) -> Iterator[None]:
        """Serve one request in the block: the entries recorded in it are handed to ``commits`` instead of
        waited for, and the caller must await ``commits.committed()`` before it answers (the HTTP layer
        does). While the block runs, the group commit knows one more entry is on its way (see _GroupCommit)."""
        token = _deferring.set(commits)
        if self._committer is not None:
            self._committer.serving(1)
        try:
            yield
        finally:
            _deferring.reset(token)
            if self._committer is not None:
                self._committer.serving(-1)

    def append(self, session: Session, accesses: list[Access]) -> None:
        """Append the entries of ``accesses`` in ``session``'s write transaction (committed with it)."""
        for access in accesses:
            _log_refusal(access)
        if self.enabled:
            entries.append(session.conn, [self.entry(access) for access in accesses])

    def entry(self, access: Access) -> Entry:
        recorded = now_ms()
        event = orjson.dumps(audit_event(access, observer=self.observer, recorded_ms=recorded))
        return Entry(0, recorded, access.patient_key, access.organisation, access.action, access.outcome,
                     access.purpose, event)

    def prune(self, retention_days: int) -> int:
        """Remove entries older than ``retention_days`` (keeping the chain verifiable); how many went."""
        with self.database.connection(write=True) as conn:
            conn.begin(True)
            try:
                removed = entries.prune(conn, now_ms() - retention_days * DAY_S * 1000)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        if removed:
            log.info("audit entries pruned", removed=removed, retention_days=retention_days)
        return removed

    def prune_daily(self, retention_days: int) -> threading.Event:
        """Prune now and then once a day in a background thread; set the returned event to stop it."""
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set():
                try:
                    self.prune(retention_days)
                except Exception:
                    log.exception("pruning the audit trail failed")
                stop.wait(DAY_S)

        threading.Thread(target=run, name="samen-audit-prune", daemon=True).start()
        return stop

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()


def _log_refusal(access: Access) -> None:
    if access.status not in (401, 403):
        return
    context = access.context
    log.warning(
        "access refused", status=access.status, rule=access.rule, reason=access.reason, detail=access.detail,
        method=access.method, path=access.path, client=context.client_ura if context else "",
        kind=context.kind if context else "",
        professional=context.professional.uzi if context and context.professional else "",
        purpose=context.purpose if context else "", token=context.token_id if context else "",
        patient_bound=context.patient_bound if context else False, client_address=access.client_address,
    )


_Wakeup = threading.Event | tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]  # a blocked thread, or a coroutine


class Commits:
    """The group commits one request waits for: every entry recorded for it, awaited once before it is answered.

    Inside :meth:`AuditTrail.deferred` (the HTTP layer's worker thread), :meth:`AuditTrail.record` hands its entry to
    the group commit and returns at once; the request's coroutine then awaits :meth:`committed`, which the
    committer resolves with one ``call_soon_threadsafe`` per batch, so no worker thread is parked per
    request and the answer still goes out only after its entries are committed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outstanding = 0
        self._failed = False
        self._waiter: _Wakeup | None = None

    def wait(self) -> None:
        """Block until every entry handed over so far is committed; AuditUnavailable if one was not."""
        event = threading.Event()
        if self._wait_for(event):
            event.wait()
        self._check()

    async def committed(self) -> None:
        """Await the commit of every entry handed over so far; AuditUnavailable if one was not."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if self._wait_for((loop, future)):
            await future
        self._check()

    def _wait_for(self, waiter: _Wakeup) -> bool:
        with self._lock:
            if self._outstanding == 0:
                return False
            self._waiter = waiter
            return True

    def _check(self) -> None:
        with self._lock:
            if self._failed:
                self._failed = False
                raise AuditUnavailable()

    def _handed_over(self) -> None:
        with self._lock:
            self._outstanding += 1

    def _finished(self, failed: bool) -> _Wakeup | None:
        """One entry is committed (or not); the waiter to wake when it was the last one awaited."""
        with self._lock:
            self._outstanding -= 1
            self._failed = self._failed or failed
            if self._outstanding or self._waiter is None:
                return None
            waiter, self._waiter = self._waiter, None
            return waiter


_deferring: ContextVar[Commits | None] = ContextVar("samen_audit_deferring", default=None)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a request whose client went away was cancelled
            future.set_result(None)


class _GroupCommit:
    """Appends the entries handed to it, as many per transaction as are waiting, one commit at a time.

    No fixed timer: while one commit runs, the next batch gathers. A batch waits (at most
    ``SIBLING_WAIT_S``) while other requests of this process are still being served, so that their
    entries join it (PostgreSQL's ``commit_delay``/``commit_siblings`` idea); the last of them to finish
    commits the batch in its own worker thread (the first free waiter commits, the others piggyback), so
    a lone request wakes no other thread. The committer thread commits what waits longer, and what
    blocking callers hand over. Fewer, larger commits cost less than they seem: every SQLite commit also
    empties the page cache of every other connection. Waiting requests are woken per batch: threads by
    their event, coroutines by one ``call_soon_threadsafe`` per event loop. On SQLite a second thread
    checkpoints the WAL these commits grow (at most once per ``CHECKPOINT_EVERY_S``), so that no request
    waits for a checkpoint's flush.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[tuple[Entry, Commits]] = []
        self._serving = 0  # requests in AuditTrail.deferred: entries that will be handed over soon
        self._committing = False  # one commit at a time: by this thread, or by the last request served
        self._head_seen: tuple[int, str] | None = None  # the last entry this process appended (PostgreSQL: see store)
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="samen-audit", daemon=True)
        self._thread.start()
        self._checkpoint_due = threading.Event()
        self._stopped = threading.Event()
        self._checkpointer = None
        if database.dialect.name == "sqlite":
            self._checkpointer = threading.Thread(target=self._checkpoints, name="samen-audit-checkpoint", daemon=True)
            self._checkpointer.start()

    def hand_over(self, entry: Entry, commits: Commits) -> None:
        with self._wake:
            if self._closed:
                raise AuditUnavailable()
            commits._handed_over()
            self._pending.append((entry, commits))
            if len(self._pending) == 1:
                self._wake.notify()

    def serving(self, change: int) -> None:
        """One more (1) or one fewer (-1) request of this process is being served; the last one to finish
        commits what is waiting itself, while no commit runs (no thread to wake for a lone request)."""
        with self._wake:
            self._serving += change
            if self._serving or not self._pending or self._committing:
                return
            batch = self._take()
        self._commit(batch)

    def _run(self) -> None:
        while True:
            with self._wake:
                deadline = None
                while True:
                    if self._pending and not self._committing:
                        if not self._serving or len(self._pending) >= MAX_BATCH:
                            break
                        deadline = deadline or time.monotonic() + SIBLING_WAIT_S
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self._wake.wait(remaining)
                    elif self._closed and not self._pending:
                        return
                    else:
                        self._wake.wait()
                batch = self._take()
            self._commit(batch)

    def _take(self) -> list[tuple[Entry, Commits]]:
        """The next batch; the caller holds ``_wake`` and must :meth:`_commit` it."""
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        self._committing = True
        return batch

    def _commit(self, batch: list[tuple[Entry, Commits]]) -> None:
        failed = False
        try:
            self._append([entry for entry, _ in batch])
        except Exception:
            log.exception("audit entries could not be written", entries=len(batch))
            failed = True
        _wake_up([commits._finished(failed) for _, commits in batch])
        with self._wake:
            self._committing = False
            if self._pending:
                self._wake.notify()
        self._checkpoint_due.set()

    def _checkpoints(self) -> None:
        while True:
            self._checkpoint_due.wait()
            if self._stopped.is_set():
                return
            self._checkpoint_due.clear()
            try:
                with self.database.connection() as conn:
                    entries.checkpoint(conn)
            except Exception:
                log.exception("checkpointing the audit entries failed")
            if self._stopped.wait(CHECKPOINT_EVERY_S):
                return

    def _append(self, batch: list[Entry]) -> None:
        for attempt in range(3):  # a serialisation conflict or a busy database is worth another try
            try:
                with self.database.connection(write=True) as conn:
                    chained = entries.append_unflushed(conn, batch, self._head_seen)
                self._head_seen = (chained[-1].seq, chained[-1].hash)
                return
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=10)
        self._stopped.set()
        self._checkpoint_due.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)


def _wake_up(waiters: list[_Wakeup | None]) -> None:
    """Wake whoever waits for a finished batch: an event each, and one callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for waiter in waiters:
        if isinstance(waiter, threading.Event):
            waiter.set()
        elif waiter is not None:
            by_loop.setdefault(waiter[0], []).append(waiter[1])
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass
