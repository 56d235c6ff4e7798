"""The background worker: takes the outbox in batches and keeps the index in line with the store.

Every ``interval_s`` a round looks (reading only) whether there is work: outbox rows, an import not
yet reconciled (``samen import`` writes outside any node, so a finished import makes the next round
reconcile with the whole store, as does the very first round). With work it takes the lease
(:mod:`~samen.directory.custodian.state`), plans, sends and records, then gives the lease back.
A failure keeps the outbox rows, is logged without BSNs and waits with exponential backoff.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

import structlog

from samen.auth.client import TokenRefused
from samen.directory.custodian import ledger, outbox, state, sync
from samen.directory.custodian.ledger import Entry
from samen.directory.custodian.sync import Sender, without_bsns
from samen.directory.localization_client import LocalizationError
from samen.fhir.model import Model
from samen.fhir.primitives import now_ms
from samen.store.store import Store

log = structlog.get_logger("samen.directory.custodian")

BATCH = 500  # outbox rows per round
INTERVAL_S = 0.5
LEASE_MS = 120_000  # longer than a round can take (HTTP timeouts are 30 s per call)
BACKOFF_MS = 1_000  # the first retry; doubled per failure


class Worker:
    """One sender thread; any number of them (threads or processes) may share a database."""

    def __init__(self, store: Store, model: Model, sender: Callable[[], Sender], *, batch: int = BATCH,
                 interval_s: float = INTERVAL_S, backoff_ms: int = BACKOFF_MS) -> None:
        """``sender`` makes the :class:`Sender` when there is something to send (it reads the trust list)."""
        self.store = store
        self.model = model
        self.sender = sender
        self.batch = batch
        self.interval_s = interval_s
        self.backoff_ms = backoff_ms
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._sender: Sender | None = None  # kept between rounds (its token client reuses tokens); dropped on failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="custodian-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception as error:  # a database error: log and try again next round, never end the thread
                # the message only, masked: a database error can name a ledger key (a BSN); no traceback
                log.error("localization round failed", error=without_bsns(f"{type(error).__name__}: {error}"))

    def run_once(self) -> bool:
        """One round; True when it sent or recorded something."""
        with self.store.session(write=False) as session:
            status = state.read(session.conn)
            imported = state.latest_import_ms(session.conn)
            reconcile = status.imports_seen_ms < 0 or imported > status.imports_seen_ms
            if status.retry_at_ms > now_ms() or not (reconcile or outbox.pending(session.conn)):
                return False
        with self.store.session(write=True) as session:
            if not state.acquire(session.conn, self.holder, LEASE_MS):
                return False
        try:
            return self._round(reconcile, imported)
        finally:
            with self.store.session(write=True) as session:
                state.release(session.conn, self.holder)

    def _round(self, reconcile: bool, imported: int) -> bool:
        with self.store.session(write=False) as session:
            changes = outbox.take(session.conn, self.batch)
            if reconcile:
                plan = sync.for_everything(session.conn, self.model)
            else:
                plan = sync.for_changes(session.conn, self.model, changes)
        try:
            if plan:
                if self._sender is None:
                    self._sender = self.sender()
                self._sender.send(plan, self._record)
        except (LocalizationError, TokenRefused) as error:
            self._sender = None
            message = without_bsns(str(error))
            with self.store.session(write=True) as session:
                wait = state.failed(session.conn, message, self.backoff_ms)
            log.warning("localization: sending failed; retrying", error=message, retry_in_ms=wait,
                        register=len(plan.register), deregister=len(plan.deregister))
            return False
        with self.store.session(write=True) as session:
            outbox.done(session.conn, changes)
            state.succeeded(session.conn, reconciled_imports_ms=imported if reconcile else None)
        if plan:
            log.info("localization: index updated", registered=len(plan.register),
                     deregistered=len(plan.deregister), changes=len(changes), reconciled=reconcile)
        return bool(plan or changes)

    def _record(self, registered: Sequence[Entry], deregistered: Sequence[Entry]) -> None:
        with self.store.session(write=True) as session:
            ledger.record(session.conn, registered)
            ledger.forget(session.conn, deregistered)
        with self.store.session(write=True) as session:  # after the record is committed: it is true either way
            state.renew(session.conn, self.holder, LEASE_MS)

