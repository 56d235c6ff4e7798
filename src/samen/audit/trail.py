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

import os
import threading
import time
from dataclasses import dataclass, field

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
        """Append the entry of ``access`` durably (group commit) and return once it is committed."""
        _log_refusal(access)
        if self._committer is not None:
            self._committer.commit(self.entry(access))

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


@dataclass
class _Waiter:
    entry: Entry
    done: threading.Event = field(default_factory=threading.Event)
    failed: bool = False


class _GroupCommit:
    """One thread per process that appends the entries handed to it, as many per transaction as are waiting.

    No timer: while one commit runs, the next batch gathers, so a lone request waits for one commit
    and a busy node commits many entries at once.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[_Waiter] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="samen-audit", daemon=True)
        self._thread.start()

    def commit(self, entry: Entry) -> None:
        waiter = _Waiter(entry)
        with self._wake:
            if self._closed:
                raise AuditUnavailable()
            self._pending.append(waiter)
            self._wake.notify()
        waiter.done.wait()
        if waiter.failed:
            raise AuditUnavailable()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                self._append([waiter.entry for waiter in batch])
            except Exception:
                log.exception("audit entries could not be written", entries=len(batch))
                for waiter in batch:
                    waiter.failed = True
            for waiter in batch:
                waiter.done.set()

    def _append(self, batch: list[Entry]) -> None:
        for attempt in range(3):  # a serialisation conflict or a busy database is worth another try
            try:
                with self.database.connection(write=True) as conn:
                    entries.append_unflushed(conn, batch)
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
