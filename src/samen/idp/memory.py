"""Short-lived values the test IdPs hold between two requests: pending logins, codes, access tokens.

In memory, in one process: ``samen idp`` runs a single worker, and a restart only ends logins in
progress. Handles are 256 random bits, so they cannot be guessed.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class Expiring(Generic[T]):
    """Values by random handle, each until its time is up; ``take`` hands one out once."""

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self._values: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def put(self, value: T) -> str:
        handle = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._values[handle] = (time.monotonic() + self.lifetime_s, value)
        return handle

    def get(self, handle: str) -> T | None:
        """The value, while it lasts."""
        with self._lock:
            entry = self._values.get(handle)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def take(self, handle: str) -> T | None:
        """The value, removed: a second take of the same handle gets None."""
        with self._lock:
            entry = self._values.pop(handle, None)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for handle in [handle for handle, (expires, _) in self._values.items() if expires <= now]:
            del self._values[handle]
