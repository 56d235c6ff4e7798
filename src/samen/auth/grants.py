"""Single-use values of a browser flow, kept in the node's database between two of its requests.

A SMART App Launch crosses several requests (authorize, the identity provider's callback, the token
request) that may each reach another worker process, so what one request leaves for the next is a
row of ``auth_grant`` that every worker sees. A value is found by a random handle that only the
browser or the app holds (the table stores its SHA-256, so reading the database does not let anyone
redeem it), lives for seconds to minutes, and is taken exactly once: the delete that reads it is
atomic, so two requests racing with the same code cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson

from samen.store.db import Database


class OneTimeGrants:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    def put(self, kind: str, value: dict[str, Any], lifetime_s: float) -> str:
        """Keep ``value`` for ``lifetime_s`` seconds; the handle to take it with."""
        handle = secrets.token_urlsafe(32)
        now_ms = int(self.clock() * 1000)
        with self.database.connection(write=True) as conn:
            conn.begin(write=True)
            conn.execute("DELETE FROM auth_grant WHERE expires_ms < ?", (now_ms,))
            conn.execute("INSERT INTO auth_grant (handle, kind, expires_ms, content) VALUES (?, ?, ?, ?)",
                         (digest(handle), kind, now_ms + int(lifetime_s * 1000), orjson.dumps(value)))
            conn.commit()
        return handle

    def take(self, kind: str, handle: str) -> dict[str, Any] | None:
        """The value kept under ``handle`` for ``kind``, removed; None when unknown, taken or expired."""
        if not handle:
            return None
        with self.database.connection(write=True) as conn:
            conn.begin(write=True)
            rows = conn.execute("DELETE FROM auth_grant WHERE handle = ? AND kind = ? RETURNING expires_ms, content",
                                (digest(handle), kind))
            conn.commit()
        if not rows or rows[0][0] < self.clock() * 1000:
            return None
        return orjson.loads(bytes(rows[0][1]))

    def peek(self, kind: str, handle: str) -> dict[str, Any] | None:
        """The value kept under ``handle`` for ``kind``, left in place; None when unknown, taken or expired.

        For a value that serves several requests while it lives (a page's session), ended by :meth:`take`.
        """
        if not handle:
            return None
        with self.database.connection() as conn:
            rows = conn.execute("SELECT expires_ms, content FROM auth_grant WHERE handle = ? AND kind = ?",
                                (digest(handle), kind))
        if not rows or rows[0][0] < self.clock() * 1000:
            return None
        return orjson.loads(bytes(rows[0][1]))

    def take_all(self, kind: str) -> int:
        """Remove every value of ``kind`` at once (revoking them all); how many were still valid."""
        with self.database.connection(write=True) as conn:
            conn.begin(write=True)
            rows = conn.execute("DELETE FROM auth_grant WHERE kind = ? RETURNING expires_ms", (kind,))
            conn.commit()
        now_ms = self.clock() * 1000
        return sum(1 for (expires_ms,) in rows if expires_ms >= now_ms)


def digest(secret: str) -> str:
    """What is stored of a secret handle (a grant's, a browser's): its SHA-256, so a copy of the table opens nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()
