"""An organisation's signing keys on disk: EC P-256 private JWKs, rotated with overlapping validity.

Other nodes cache a published JWKS for a while, and tokens signed just before a rotation must still
verify, so a rotated-out key stays published (and accepted) until its not-after; then it drops out
of the JWKS and nothing signed with it verifies any more.

Each key is one file ``<kid>.json`` (mode 0600) in the key directory::

    {"ura": "12345678", "created": "2026-01-01T10:00:00Z", "not_before": "...", "not_after": "...",
     "jwk": {"kty": "EC", "crv": "P-256", "x": "...", "y": "...", "d": "...", "kid": "...", ...}}

The kid is the key's RFC 7638 thumbprint. Files are replaced atomically; every process that uses the
directory notices changes (a rotation by ``samen keys rotate`` while the node runs) within a second.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from joserfc.jwk import ECKey

from samen.auth.jose import ALGORITHM

DEFAULT_VALIDITY_S = 365 * 24 * 3600
DEFAULT_OVERLAP_S = 24 * 3600  # longer than any JWKS cache and any token signed before a rotation
URA_PATTERN = re.compile(r"^\d{8}$")
_RECHECK_S = 1.0  # how often the directory is looked at again


class KeyStoreError(Exception):
    """Keys cannot be created, rotated or used as asked; the message says why."""


class NoSigningKey(KeyStoreError):
    """No key is valid now (none created yet, or all expired)."""


@dataclass(frozen=True)
class SigningKey:
    """One private key with its validity period (seconds since the epoch)."""

    ura: str
    created: float
    not_before: float
    not_after: float
    jwk: ECKey

    @property
    def kid(self) -> str:
        return self.jwk.kid or ""

    def status(self, now: float) -> str:
        """``pending`` (not yet valid), ``valid`` or ``expired``."""
        if now >= self.not_after:
            return "expired"
        return "pending" if now < self.not_before else "valid"

    def to_json(self) -> dict[str, Any]:
        return {"ura": self.ura, "created": _iso(self.created, "microseconds"), "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after), "jwk": self.jwk.as_dict(private=True)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SigningKey:
        jwk = ECKey.import_key(data["jwk"])
        if jwk.curve_name != "P-256" or not jwk.is_private:
            raise KeyStoreError("a key file must hold a private EC P-256 key")
        return cls(str(data["ura"]), _epoch(data["created"]), _epoch(data["not_before"]),
                   _epoch(data["not_after"]), jwk)


class KeyStore:
    """The signing keys of one organisation, kept as one JSON file per key in ``directory``."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: tuple[SigningKey, ...] = ()
        self._by_kid: dict[str, SigningKey] = {}
        self._stamp: frozenset[tuple[str, int, int, int]] | None = None
        self._checked = float("-inf")

    # -- reading ------------------------------------------------------------------------------

    def keys(self) -> tuple[SigningKey, ...]:
        """Every key on disk, oldest first, expired ones included."""
        self._refresh()
        return self._keys

    @property
    def ura(self) -> str:
        """The organisation's URA; "" when there are no keys."""
        keys = self.keys()
        return keys[-1].ura if keys else ""

    def signing_key(self) -> SigningKey:
        """The key to sign with now: the newest one whose validity has begun and not ended."""
        now = self.clock()
        valid = [key for key in self.keys() if key.status(now) == "valid"]
        if not valid:
            raise NoSigningKey(f"no valid signing key in {self.directory}")
        return max(valid, key=lambda key: key.created)

    def current(self) -> ECKey:
        """The private JWK of :meth:`signing_key`."""
        return self.signing_key().jwk

    def verification_key(self, kid: str) -> SigningKey | None:
        """The published key with this kid, for checking a signature made by this organisation."""
        self._refresh()
        key = self._by_kid.get(kid)
        return key if key is not None and key.status(self.clock()) != "expired" else None

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """``{"keys": [...]}``: the public halves of every key that has not expired (pending ones too,
        so that others know a key before it signs anything)."""
        now = self.clock()
        return {"keys": [_public(key) for key in self.keys() if key.status(now) != "expired"]}

    # -- writing ------------------------------------------------------------------------------

    def create(self, ura: str, *, validity_s: int = DEFAULT_VALIDITY_S) -> SigningKey:
        """The organisation's first key; refused when the directory already holds keys."""
        if not URA_PATTERN.match(ura):
            raise KeyStoreError(f"'{ura}' is not a URA (8 digits)")
        if self.keys():
            raise KeyStoreError(f"{self.directory} already holds keys; use rotate")
        return self._add(ura, validity_s)

    def rotate(self, *, overlap_s: int = DEFAULT_OVERLAP_S, validity_s: int = DEFAULT_VALIDITY_S) -> SigningKey:
        """A new current key; the keys valid until now stay published for ``overlap_s`` more at most."""
        now = self.clock()
        old = [key for key in self.keys() if key.status(now) != "expired"]
        if not self.keys():
            raise KeyStoreError(f"{self.directory} holds no keys; use create")
        new = self._add(self.ura, validity_s)
        for key in old:
            if key.not_after > now + overlap_s:
                self._write(replace(key, not_after=now + overlap_s))
        return new

    def _add(self, ura: str, validity_s: int) -> SigningKey:
        now = self.clock()
        # the newest key signs: a new key is created after every existing one, even within one clock tick
        created = max([now, *(key.created + 0.001 for key in self.keys())])
        jwk = ECKey.generate_key("P-256", {"alg": ALGORITHM, "use": "sig"}, private=True, auto_kid=True)
        key = SigningKey(ura, created, now, now + validity_s, jwk)
        self._write(key)
        return key

    def _write(self, key: SigningKey) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.directory / f"{key.kid}.json"
        temporary = target.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(orjson.dumps(key.to_json(), option=orjson.OPT_INDENT_2))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
        self._checked = float("-inf")  # read again on next use

    def _refresh(self) -> None:
        """Read the directory again when it changed; looked at no more than once a second."""
        monotonic = time.monotonic()
        if monotonic - self._checked < _RECHECK_S:
            return
        with self._lock:
            stamp = _stamp(self.directory)
            if stamp != self._stamp:
                self._keys = _read_keys(self.directory) if stamp else ()
                self._by_kid = {key.kid: key for key in self._keys}
                self._stamp = stamp
            self._checked = monotonic


def _stamp(directory: Path) -> frozenset[tuple[str, int, int, int]]:
    """What identifies the directory's contents: every key file's name, inode, size and modification
    time (a replaced file has a new inode, so even two changes within one clock tick are seen)."""
    stamp = set()
    for path in directory.glob("*.json"):
        try:
            status = path.stat()
        except FileNotFoundError:
            continue  # replaced while listing; the next look sees its successor
        stamp.add((path.name, status.st_ino, status.st_size, status.st_mtime_ns))
    return frozenset(stamp)


def _read_keys(directory: Path) -> tuple[SigningKey, ...]:
    keys = []
    for path in sorted(directory.glob("*.json")):
        try:
            keys.append(SigningKey.from_json(orjson.loads(path.read_bytes())))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeyStoreError(f"{path} is not a readable key file ({error})") from error
    return tuple(sorted(keys, key=lambda key: key.created))


def _public(key: SigningKey) -> dict[str, Any]:
    public = key.jwk.as_dict(private=False)
    public.update(kid=key.kid, alg=ALGORITHM, use="sig")
    return public


def _iso(epoch: float, precision: str = "seconds") -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec=precision).replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
