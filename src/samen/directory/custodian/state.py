"""The worker's row in ``custodian_state``: a lease (one sender at a time over all processes) and the status.

The lease is held for one round only (taken before it plans, renewed after each part it records, given
back at its end), so that the worker threads of several server processes and ``samen localization
reconcile`` take turns and never plan from a ledger another holder is still changing; a holder that dies
mid-round loses it when it expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from samen.fhir.primitives import now_ms
from samen.store.db import Conn

NAME = "custodian"
MAX_BACKOFF_MS = 30_000


@dataclass(frozen=True)
class Status:
    holder: str
    lease_until_ms: int
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None
    failures: int
    retry_at_ms: int
    imports_seen_ms: int  # -1: never reconciled (the first round does)


def read(conn: Conn) -> Status:
    row = conn.execute(
        "SELECT holder, lease_until_ms, last_success_ms, last_error, last_error_ms, failures, retry_at_ms, "
        "imports_seen_ms FROM custodian_state WHERE name = ?", (NAME,))
    return Status(*row[0]) if row else Status("", 0, None, None, None, 0, 0, -1)


def acquire(conn: Conn, holder: str, lease_ms: int) -> bool:
    """Take the lease for ``holder`` unless another holder's lease still runs."""
    _ensure(conn)
    now = now_ms()
    taken = conn.execute(
        "UPDATE custodian_state SET holder = ?, lease_until_ms = ? "
        "WHERE name = ? AND (holder = ? OR lease_until_ms < ?) RETURNING name",
        (holder, now + lease_ms, NAME, holder, now))
    return bool(taken)


class LeaseLost(Exception):
    """The lease ran out and another holder took it: stop sending (what was sent is recorded, and harmless twice)."""


def renew(conn: Conn, holder: str, lease_ms: int) -> None:
    """Extend ``holder``'s lease by ``lease_ms`` from now, after each part sent; raises :class:`LeaseLost`."""
    if not conn.execute("UPDATE custodian_state SET lease_until_ms = ? WHERE name = ? AND holder = ? RETURNING name",
                        (now_ms() + lease_ms, NAME, holder)):
        raise LeaseLost(f"the localization lease of {holder} was taken over")


def release(conn: Conn, holder: str) -> None:
    conn.execute("UPDATE custodian_state SET lease_until_ms = 0 WHERE name = ? AND holder = ?", (NAME, holder))


def succeeded(conn: Conn, *, reconciled_imports_ms: int | None = None) -> None:
    conn.execute("UPDATE custodian_state SET last_success_ms = ?, failures = 0, retry_at_ms = 0 WHERE name = ?",
                 (now_ms(), NAME))
    if reconciled_imports_ms is not None:
        conn.execute("UPDATE custodian_state SET imports_seen_ms = ? WHERE name = ?", (reconciled_imports_ms, NAME))


def failed(conn: Conn, error: str, base_backoff_ms: int) -> int:
    """Record a failure; the next attempt waits twice as long as the last (up to :data:`MAX_BACKOFF_MS`)."""
    failures = read(conn).failures + 1
    now = now_ms()
    wait = min(MAX_BACKOFF_MS, base_backoff_ms * 2 ** min(failures - 1, 16))
    conn.execute("UPDATE custodian_state SET last_error = ?, last_error_ms = ?, failures = ?, retry_at_ms = ? "
                 "WHERE name = ?", (error, now, failures, now + wait, NAME))
    return wait


def latest_import_ms(conn: Conn) -> int:
    """When ``samen import`` last finished a file (0: never): imports bypass the outbox."""
    return conn.execute("SELECT coalesce(max(finished_ms), 0) FROM bulk_import")[0][0]


def _ensure(conn: Conn) -> None:
    conn.execute("INSERT INTO custodian_state (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (NAME,))
