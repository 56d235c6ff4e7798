"""Sign-in to the directory management page: one-time login links, signed session cookies, CSRF tokens.

Everything is an HMAC-SHA256 over a small JSON payload with a secret of this node (``directory-admin.key`` in
the node's keys directory, created on first use, mode 0600). The operator makes a login link with
``samen directory admin-secret`` (or :func:`login_link`); it is valid for ten minutes and once per serving
process. A session lasts eight hours. The CSRF token of a form is bound to its session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

SECRET_FILE = "directory-admin.key"
LOGIN_TTL_S = 600
SESSION_TTL_S = 8 * 3600


def load_secret(keys_dir: str) -> bytes:
    """The node's page secret, created (0600) when it does not exist yet."""
    path = Path(keys_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(32).hex().encode())
    return bytes.fromhex(path.read_text().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Signer:
    """Signs and checks the page's tokens for one organisation (its URA) with one secret."""

    secret: bytes
    ura: str
    _redeemed: set[str] = field(default_factory=set)

    def _sign(self, payload: dict[str, object]) -> str:
        body = _b64(orjson.dumps(payload))
        mac = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def _open(self, token: str, kind: str) -> dict[str, object] | None:
        """The payload of a token of ``kind`` signed by this signer, for this URA and not expired; else None."""
        body, _, mac = token.partition(".")
        try:
            expected = hmac.new(self.secret, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            payload = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(payload, dict) or payload.get("kind") != kind or payload.get("ura") != self.ura:
            return None
        expires = payload.get("exp")
        return payload if isinstance(expires, int) and expires > time.time() else None

    def login_token(self) -> str:
        return self._sign({"kind": "login", "ura": self.ura, "exp": int(time.time()) + LOGIN_TTL_S,
                           "nonce": secrets.token_urlsafe(16)})

    def redeem(self, token: str) -> str | None:
        """A new session cookie for a valid, unused login token; None otherwise."""
        payload = self._open(token, "login")
        if payload is None or payload["nonce"] in self._redeemed:
            return None
        self._redeemed.add(str(payload["nonce"]))
        return self.session()

    def session(self) -> str:
        return self._sign({"kind": "session", "ura": self.ura, "exp": int(time.time()) + SESSION_TTL_S,
                           "sid": secrets.token_urlsafe(16)})

    def session_id(self, cookie: str | None) -> str | None:
        """The id of a valid session cookie of this organisation, or None."""
        payload = self._open(cookie, "session") if cookie else None
        return str(payload["sid"]) if payload else None

    def csrf(self, session_id: str) -> str:
        return _b64(hmac.new(self.secret, f"csrf:{session_id}".encode(), hashlib.sha256).digest())

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session_id), token or "")


def login_link(base_url: str, keys_dir: str, ura: str) -> str:
    """A one-time login link to the directory management page of the node at ``base_url``."""
    token = Signer(load_secret(keys_dir), ura).login_token()
    return f"{base_url.rstrip('/')}/beheer/adresboek/login?token={token}"
