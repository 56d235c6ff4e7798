"""The consent changes a data holder was notified of, shared by all workers of the node (``consent_notice``).

The registry's notification reaches one worker; that worker records "the choices of person P changed at
time T" in the database every worker uses. A worker keeps a consent answer together with the T it read
before asking (0: no notice), and uses it only while T is unchanged: one primary-key read per consent
check, so a notification counts in every worker from its next request. Equality rather than "fetched
after T" keeps the workers free of a common clock: T only has to change at every notice, which
:meth:`SharedNotices.record` makes sure of. Notices older than twice the longest cache time are pruned: no
answer kept from before them is still alive, and a later notice has a new T.
"""

from __future__ import annotations

from samen.consent.answers import MAX_TTL_S
from samen.fhir.primitives import now_ms
from samen.store.store import Store

KEEP_MS = int(2 * MAX_TTL_S * 1000)

_RECORD = (
    "INSERT INTO consent_notice (bsn, changed_ms) VALUES (?, ?) ON CONFLICT (bsn) DO UPDATE SET changed_ms = "
    "CASE WHEN excluded.changed_ms > consent_notice.changed_ms THEN excluded.changed_ms "
    "ELSE consent_notice.changed_ms + 1 END"  # a clock that stands still or goes back still changes T
)


class SharedNotices:
    """Reads and records notices in the node's store; thread-safe (a session per call)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def last(self, bsn: str) -> int:
        """T of the last change notified for ``bsn``; 0 when none is recorded."""
        with self.store.session(write=False) as session:
            rows = session.conn.execute("SELECT changed_ms FROM consent_notice WHERE bsn = ?", (bsn,))
        return int(rows[0][0]) if rows else 0

    def record(self, bsn: str) -> None:
        """A change of ``bsn``'s choices was notified: every worker's kept answers about them no longer count."""
        now = now_ms()
        with self.store.session(write=True) as session:
            session.conn.execute(_RECORD, (bsn, now))
            session.conn.execute("DELETE FROM consent_notice WHERE changed_ms < ?", (now - KEEP_MS,))
