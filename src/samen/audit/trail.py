"""The audit trail of one node: every access and refusal becomes a hash-chained entry before it is answered.

Two ways in, both giving exactly one entry per access:

- :meth:`AuditTrail.append` in the caller's write transaction: a create, update, delete or transaction
  is committed together with its entries, or neither is;
- :meth:`AuditTrail.record` for everything else (reads, searches, operations, refusals, failed
  writes after their rollback): the entry is written to this process's spool file
  (:mod:`samen.audit.spool`) before the caller goes on, so an answered request always has an entry
  that survives a crash of the process; a thread of the process chains the spool into the trail a
  few times a second, and :meth:`AuditTrail.flush` does so at once (before the trail is read). If
  the entry cannot be written the request fails with 503: no access without its record.

One log line per refusal (never with the patient); successes are in the access log only.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import structlog

from samen.audit import events
from samen.audit import spool as spooling
from samen.audit import store as entries
from samen.audit.chain import Entry
from samen.audit.events import Access
from samen.fhir.outcome import FhirError
from samen.fhir.primitives import now_ms
from samen.store.db import Database
from samen.store.store import Session

# Benchmark only: "1" leaves the trail out, to measure what it costs (bench/audit_overhead.py). Never in use.
NO_AUDIT_FOR_BENCHMARK = "SAMEN_BENCHMARK_NO_AUDIT"
INGEST_EVERY_S = 0.2  # how often this process chains its own spool files into the trail
ORPHANS_EVERY_S = 10.0  # how often it also chains (and removes) the files of processes that are gone
# "1": a chainer process (samen.audit.chainer, started by samen serve) chains this node's spool every
# INGEST_EVERY_S; the trail then chains only every ORPHANS_EVERY_S itself, in case the chainer is gone.
CHAINER_ENV = "SAMEN_AUDIT_CHAINER"
DAY_S = 86_400

log = structlog.get_logger("samen.audit")


class AuditUnavailable(FhirError):
    """The entry of an access could not be written: the access is not answered."""

    def __init__(self) -> None:
        super().__init__(503, "The audit trail cannot be written; the request was not answered", "transient")


class AuditTrail:
    def __init__(self, database: Database, observer: str, spool_directory: Path | None = None, *,
                 enabled: bool = True, chained_elsewhere: bool = False) -> None:
        """``observer``: the node's base URL (AuditEvent.source); ``spool_directory``: where this process
        spools the entries of reads (None: only the ``samen audit`` commands, which record nothing);
        ``chained_elsewhere``: a chainer process chains the spool (this process only every 10 s);
        ``enabled=False`` only for benchmarks."""
        self.database = database
        self.chained_elsewhere = chained_elsewhere
        self.observer = observer
        self.enabled = enabled
        self.spool_directory = spool_directory
        self._spool = spooling.Spool(spool_directory) if enabled and spool_directory is not None else None
        self._ingest_lock = threading.Lock()
        self._stop = threading.Event()
        self._ingester: threading.Thread | None = None
        if self._spool is not None:
            spooling.ingest_all(database, spool_directory)  # what processes before this one left
            self._ingester = threading.Thread(target=self._ingest_regularly, name="samen-audit", daemon=True)
            self._ingester.start()

    @classmethod
    def for_node(cls, database: Database, observer: str, db_url: str) -> AuditTrail:
        disabled = os.environ.get(NO_AUDIT_FOR_BENCHMARK) == "1"
        if disabled:
            log.warning(f"{NO_AUDIT_FOR_BENCHMARK}=1: accesses are NOT audited (benchmarks only)")
        return cls(database, observer, spooling.spool_directory(database, db_url), enabled=not disabled,
                   chained_elsewhere=os.environ.get(CHAINER_ENV) == "1")

    def record(self, access: Access) -> None:
        """Write the entry of ``access`` to the spool; returns once it survives a crash of this process."""
        _log_refusal(access)
        if self._spool is None:
            return
        try:
            self._spool.write(self.entry(access))
        except spooling.SpoolBroken as error:
            log.error("an audit entry could not be written", error=str(error))
            raise AuditUnavailable() from error

    def append(self, session: Session, accesses: list[Access]) -> None:
        """Append the entries of ``accesses`` in ``session``'s write transaction (committed with it), after
        what this process spooled before: the trail keeps each process's accesses in their order."""
        for access in accesses:
            _log_refusal(access)
        if not self.enabled:
            return
        if self._spool is not None:
            for path in self._spool.files():
                try:
                    while spooling.ingest_in(session.conn, path).more:
                        pass
                except FileNotFoundError:  # a full segment, chained and removed by another ingester meanwhile
                    continue
        entries.append(session.conn, [self.entry(access) for access in accesses])

    def entry(self, access: Access) -> Entry:
        return Entry(0, now_ms(), access.patient_key, access.organisation, access.action, access.outcome,
                     access.purpose, events.record(access, self.observer))

    def flush(self) -> None:
        """Chain every spooled entry of the node (of all its processes) into the trail now."""
        if self.spool_directory is not None:
            with self._ingest_lock:
                spooling.ingest_all(self.database, self.spool_directory)

    def _ingest_regularly(self) -> None:
        every = ORPHANS_EVERY_S if self.chained_elsewhere else INGEST_EVERY_S
        since_orphans = 0.0
        while not self._stop.wait(every):
            since_orphans += every
            try:
                if since_orphans >= ORPHANS_EVERY_S:
                    since_orphans = 0.0
                    self.flush()
                else:
                    self._ingest_own()
            except Exception:
                log.exception("chaining the audit spool failed; it is tried again")

    def _ingest_own(self) -> None:
        """Chain this process's spool files in the order it wrote them (removing those it gave up, once chained)."""
        assert self._spool is not None
        with self._ingest_lock:
            spooling.chain(self.database, self._spool.files())

    def prune(self, retention_days: int) -> int:
        """Remove entries older than ``retention_days`` (keeping the chain verifiable); how many went."""
        self.flush()
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
        """Chain what this process spooled, and give up its spool file (removed once chained)."""
        if self._spool is None:
            return
        self._stop.set()
        if self._ingester is not None:
            self._ingester.join()  # no chaining after this: the database closes next
        self._spool.close()
        try:
            self.flush()  # this process's files too, now given up: chained and removed
        except Exception:
            log.exception("chaining the audit spool at close failed; the next start chains it")


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
