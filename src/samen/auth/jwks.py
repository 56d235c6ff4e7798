"""Public key sets of other parties: parsed once, fetched from a ``jwks_uri`` and cached with expiry.

Only EC P-256 keys with a kid are kept: they are the only keys :mod:`samen.auth.jose` verifies with.
A kid not in the cached set triggers one early refetch (at most every few seconds), so that a
partner's rotation is picked up without waiting for the cache to expire. A failed fetch is remembered
for as long, so a partner that is down (or a stream of requests naming it) costs one attempt per interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

CACHE_S = 300  # how long a fetched JWKS is used before it is fetched again
REFETCH_S = 10  # an unknown kid fetches again, but no more often than this
TIMEOUT_S = 5.0
MAX_BYTES = 64 * 1024

Keys = dict[str, ECKey]


class JwksUnavailable(Exception):
    """The key set could not be fetched or read; the message is for logs."""


def parse_jwks(document: object) -> Keys:
    """The usable keys of a JWKS document, by kid; other keys (RSA, symmetric, without kid) are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("not a JWKS (no keys list)")
    keys: Keys = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "EC" or entry.get("crv") != "P-256":
            continue
        if not isinstance(entry.get("kid"), str) or "d" in entry:
            continue  # a published private key is not a key anyone should trust
        try:
            keys[entry["kid"]] = ECKey.import_key(entry)
        except (JoseError, ValueError, TypeError):
            continue
    return keys


@dataclass
class _Entry:
    keys: Keys
    fetched: float
    failure: str = ""  # why the last fetch failed; repeated for REFETCH_S without asking again


class JwksCache:
    """Key sets fetched over HTTP(S) by URL; thread-safe; one fetch per URL at a time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._client = httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._entries: dict[str, _Entry] = {}

    def key(self, url: str, kid: str) -> ECKey | None:
        """The key with ``kid`` published at ``url``; raises :class:`JwksUnavailable` when the set
        cannot be had at all."""
        entry = self._entries.get(url)
        now = self.clock()
        if entry is not None and now - entry.fetched < CACHE_S:
            if kid in entry.keys or now - entry.fetched < REFETCH_S:
                return _keys_of(entry).get(kid)
        return _keys_of(self._fetch(url, stale=entry)).get(kid)

    def _fetch(self, url: str, stale: _Entry | None) -> _Entry:
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
            current = self._entries.get(url)
            if current is not None and current is not stale:
                return current  # another thread fetched it meanwhile
            try:
                entry = _Entry(_download(self._client, url), self.clock())
            except JwksUnavailable as error:
                entry = _Entry({}, self.clock(), failure=str(error))
            self._entries[url] = entry
            return entry

    def close(self) -> None:
        self._client.close()


def _keys_of(entry: _Entry) -> Keys:
    if entry.failure:
        raise JwksUnavailable(entry.failure)
    return entry.keys


def _download(client: httpx.Client, url: str) -> Keys:
    try:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise JwksUnavailable(f"{url} answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise JwksUnavailable(f"{url} sent more than {MAX_BYTES} bytes")
    except httpx.HTTPError as error:
        raise JwksUnavailable(f"{url} could not be fetched ({type(error).__name__})") from error
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise JwksUnavailable(f"{url} did not send JSON") from error
    return parse_jwks(document)
