"""Sign-in to the directory management page: one-time login links, server-side sessions, CSRF tokens.

Login links and sessions are rows of the node's ``auth_grant`` table (:class:`samen.auth.grants.OneTimeGrants`),
which every worker process sees and which outlives a restart. A link is taken (deleted) atomically when it is
used, so it works exactly once within its ten minutes; a session lasts eight hours unless its user signs out or
the operator ends all sessions (``samen directory admin-secret --revoke-all``). The browser holds only random
handles, the table only their SHA-256. The CSRF token of a form is an HMAC-SHA256 of the session handle under
the node's page secret (``directory-admin.key`` in the keys directory, created on first use, mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samen.auth.grants import OneTimeGrants

SECRET_FILE = "directory-admin.key"
LOGIN_TTL_S = 600
SESSION_TTL_S = 8 * 3600
LOGIN = "directory-admin-login"
SESSION = "directory-admin-session"


def load_secret(keys_dir: str, file: str = SECRET_FILE) -> bytes:
    """The node's page secret kept in ``file`` of the keys directory, created (0600) when it does not exist yet."""
    path = Path(keys_dir) / file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(32).hex().encode())
    return bytes.fromhex(path.read_text().strip())


@dataclass
class Sessions:
    """The login links and sessions of one organisation (its URA) on one node's database.

    ``kind``: the grant kind of this page's sessions, so that another page of the node (the clinician view)
    keeps its own sessions in the same way without its handles opening this page.
    """

    grants: OneTimeGrants
    secret: bytes
    ura: str
    kind: str = SESSION

    def redeem(self, token: str) -> str | None:
        """A new session for an unused, unexpired login token of this organisation (now used up); else None."""
        link = self.grants.take(LOGIN, token)
        return self.start() if link is not None and link.get("ura") == self.ura else None

    def start(self, details: dict[str, Any] | None = None, lifetime_s: float = SESSION_TTL_S) -> str:
        """A new session (keeping ``details`` about its user): the handle the browser keeps in its cookie."""
        return self.grants.put(self.kind, {**(details or {}), "ura": self.ura}, lifetime_s)

    def details(self, cookie: str | None) -> dict[str, Any] | None:
        """What the cookie's session keeps when it is live and of this organisation, or None."""
        session = self.grants.peek(self.kind, cookie or "")
        return session if session is not None and session.get("ura") == self.ura else None

    def session_id(self, cookie: str | None) -> str | None:
        """The cookie's session when it is live and of this organisation, or None."""
        return cookie if self.details(cookie) is not None else None

    def end(self, session_id: str) -> None:
        """Sign out: the session is gone for every worker."""
        self.grants.take(self.kind, session_id)

    def csrf(self, session_id: str) -> str:
        mac = hmac.new(self.secret, f"csrf:{session_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session_id), token or "")


def revoke_all(grants: OneTimeGrants) -> tuple[int, int]:
    """End every session and void every unused login link of the page; how many of each were live."""
    return grants.take_all(SESSION), grants.take_all(LOGIN)


def login_link(base_url: str, grants: OneTimeGrants, ura: str) -> str:
    """A one-time login link to the directory management page of the node at ``base_url``."""
    token = grants.put(LOGIN, {"ura": ura}, LOGIN_TTL_S)
    return f"{base_url.rstrip('/')}/beheer/adresboek/login?token={token}"
