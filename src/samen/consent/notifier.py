"""Delivers "a citizen's choices changed" to the data holders' Subscription endpoints, in the background.

Deliveries are queued in ``consent_delivery`` by the Consent write itself (same transaction), so a
committed change is never lost and a rolled-back one is never sent. A background thread sends each
as a FHIR Parameters (``event`` consent-changed, ``patient``, ``consent``, ``subscription``) with the
Subscription's channel headers; a failure is retried with exponential backoff, and after
``attempts`` failures the Subscription's status becomes ``error`` with the reason. Several worker
processes may each run a notifier: one pass at a time takes the lock and leases what it sends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx
import orjson
import structlog

from samen.fhir.primitives import now_ms
from samen.sample import BSN
from samen.store.store import Store

log = structlog.get_logger(__name__)
EVENT = "consent-changed"
BATCH = 100


@dataclass(frozen=True)
class Delivery:
    seq: int
    subscription_id: str
    consent_id: str
    bsn: str
    attempts: int
    endpoint: str
    headers: tuple[str, ...]

    def body(self) -> bytes:
        return orjson.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "event", "valueCode": EVENT},
            {"name": "patient", "valueIdentifier": {"system": BSN, "value": self.bsn}},
            {"name": "consent", "valueReference": {"reference": f"Consent/{self.consent_id}"}},
            {"name": "subscription", "valueReference": {"reference": f"Subscription/{self.subscription_id}"}},
        ]})

    def http_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/fhir+json"}
        for header in self.headers:
            name, _, value = header.partition(":")
            headers[name.strip()] = value.strip()
        return headers


class Notifier:
    """The background sender; ``attempts``, ``backoff_s`` (doubled per retry) and ``timeout_s`` are settings."""

    def __init__(self, store: Store, *, attempts: int = 5, backoff_s: float = 1.0, timeout_s: float = 5.0,
                 poll_s: float = 1.0, lease_s: float = 30.0) -> None:
        self.store = store
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.lease_s = lease_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="consent-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)

    def wake(self) -> None:
        """Something was queued (called inside the writing transaction: the pass after it finds it committed)."""
        self._wake.set()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                self._wake.wait(self.poll_s)
                self._wake.clear()
                try:
                    while self.run_once(client) and not self._stop.is_set():
                        pass
                except Exception:  # the database may be closing or away: try again at the next pass
                    log.exception("consent notifier pass failed")

    def run_once(self, client: httpx.Client) -> int:
        """Send what is due; returns how many deliveries were attempted."""
        due = self._lease()
        for delivery in due:
            try:
                response = client.post(delivery.endpoint, content=delivery.body(), headers=delivery.http_headers())
                error = "" if response.status_code < 300 else f"HTTP {response.status_code} from {delivery.endpoint}"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__} for {delivery.endpoint}: {failure}"
            self._settle(delivery, error)
        return len(due)

    def _lease(self) -> list[Delivery]:
        now = now_ms()
        with self.store.session(write=True) as session:
            session.lock("consent-notifier")
            rows = session.conn.execute(
                "SELECT d.seq, d.subscription_id, d.consent_id, d.bsn, d.attempts, s.endpoint, s.headers "
                "FROM consent_delivery d LEFT JOIN consent_subscription s ON s.id = d.subscription_id "
                f"WHERE d.due_ms <= ? ORDER BY d.due_ms, d.seq LIMIT {BATCH}", (now,))
            gone = [row[0] for row in rows if row[5] is None]  # the Subscription was ended, turned off or failed
            session.conn.delete_in(["consent_delivery"], "seq", gone)
            due = [Delivery(row[0], row[1], row[2], row[3], row[4], row[5], tuple(orjson.loads(row[6])))
                   for row in rows if row[5] is not None]
            session.conn.execute_in("UPDATE consent_delivery SET due_ms = ? WHERE seq {in}",
                                    (now + int(self.lease_s * 1000),), [d.seq for d in due])
        return due

    def _settle(self, delivery: Delivery, error: str) -> None:
        with self.store.session(write=True) as session:
            if not error:
                session.conn.execute("DELETE FROM consent_delivery WHERE seq = ?", (delivery.seq,))
                return
            attempts = delivery.attempts + 1
            if attempts < self.attempts:
                retry_ms = now_ms() + int(self.backoff_s * 1000 * 2 ** (attempts - 1))
                session.conn.execute("UPDATE consent_delivery SET attempts = ?, due_ms = ?, last_error = ? "
                                     "WHERE seq = ?", (attempts, retry_ms, error, delivery.seq))
                return
            session.conn.execute("DELETE FROM consent_delivery WHERE seq = ?", (delivery.seq,))
            stored = session.read("Subscription", delivery.subscription_id, for_update=True)
            if stored is None or stored.content is None:
                return
            subscription = stored.json()
            subscription["status"] = "error"
            subscription["error"] = f"notification failed {attempts} times; last: {error}"
            session.update(subscription, delivery.subscription_id)  # the mirror drops it: nothing more is sent
            log.warning("consent subscription failed", subscription=delivery.subscription_id, error=error)
