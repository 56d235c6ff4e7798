"""Remembers the ids (``jti``) of client assertions until they expire, so none is accepted twice.

Kept in the memory of one process: with several worker processes an assertion could in theory be
replayed once at each worker within its (at most five minute) lifetime. A shared cache (the
database) closes that gap when it matters.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_ENTRIES = 200_000


class ReplayCache:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._seen: dict[str, float] = {}  # id -> remembered until
        self._lock = threading.Lock()

    def first_use(self, identifier: str, until: float) -> bool:
        """True the first time ``identifier`` is presented before ``until``; False for a replay (or when
        the cache is full of live ids, which refuses rather than forgets)."""
        now = self.clock()
        with self._lock:
            remembered = self._seen.get(identifier)
            if remembered is not None and remembered > now:
                return False
            if len(self._seen) >= MAX_ENTRIES:
                self._seen = {key: expiry for key, expiry in self._seen.items() if expiry > now}
                if len(self._seen) >= MAX_ENTRIES:
                    return False
            self._seen[identifier] = until
            return True
