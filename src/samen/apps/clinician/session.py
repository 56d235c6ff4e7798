"""The clinician view's server-side sessions: who is signed in, with which attestation, until when.

Kept as the directory management page keeps its sessions (:class:`samen.directory.admin_session.Sessions`:
rows of the node's ``auth_grant`` table every worker sees, the browser holding only a random handle, CSRF
tokens bound to it) under a kind of their own, and alive exactly as long as the professional attestation
they carry: the exchanges pass it on, and a custodian refuses an expired one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from samen.auth.context import Professional
from samen.directory.admin_session import Sessions

from samen.apps.clinician.login import SignedIn

SESSION_KIND = "clinician-session"
SECRET_FILE = "clinician.key"


@dataclass(frozen=True)
class Session:
    id: str
    professional: Professional
    attestation: str
    csrf: str


class ClinicianSessions:
    def __init__(self, sessions: Sessions, *, clock: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.clock = clock

    def start(self, signed_in: SignedIn) -> str | None:
        """A session for the professional until the attestation expires (None when it already has)."""
        lifetime = signed_in.expires - self.clock()
        if lifetime <= 0:
            return None
        who = signed_in.professional
        return self.sessions.start({"uzi": who.uzi, "role": who.role, "name": who.name,
                                    "attestation": signed_in.attestation}, lifetime)

    def find(self, cookie: str | None) -> Session | None:
        """The live session of the cookie, or None."""
        details = self.sessions.details(cookie)
        if details is None or cookie is None:
            return None
        professional = Professional(uzi=details["uzi"], role=details["role"], ura=details["ura"],
                                    name=details["name"])
        return Session(cookie, professional, details["attestation"], self.sessions.csrf(cookie))

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return self.sessions.csrf_ok(session.id, token)

    def end(self, session: Session) -> None:
        self.sessions.end(session.id)
