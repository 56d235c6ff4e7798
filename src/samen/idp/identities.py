"""What each test IdP knows about the person who logs in, and what it says about them in its tokens.

The OIDC machinery (:mod:`samen.idp.provider`) is the same for both; only these differ: how a person
is chosen on the login page and which claims and extra tokens they get.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit

from samen.auth.attestations import professional_claims
from samen.idp.people import TestProfessional, synthetic_bsn

Sign = Callable[[dict[str, object]], str]


class LoginRefused(Exception):
    """The login form does not name a person this IdP can log in; ``message`` is a key of the page texts."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Identities(Protocol):
    kind: str  # "citizen" or "professional": also the name of the login page template
    scopes: tuple[str, ...]  # the scopes the IdP announces
    claims: tuple[str, ...]  # the claims of its id_tokens and userinfo
    choices: tuple[TestProfessional, ...]  # the people the login page lists (none: typed in)

    def person(self, form: Mapping[str, str]) -> object:
        """The person the login form names; raises :class:`LoginRefused`."""
        ...

    def person_claims(self, person: object, client_id: str, redirect_uri: str) -> dict[str, object]:
        """``sub`` and the other claims about ``person`` for this client."""
        ...

    def extra_tokens(self, person: object, issuer: str, sign: Sign) -> dict[str, str]:
        """Signed statements beside the id_token in the token response."""
        ...


class Citizens:
    """DigiD-like: a citizen logs in with a BSN; the id_token carries a pairwise ``sub`` and the ``bsn``.

    Real DigiD gives the BSN only to parties authorised to process it (care providers are, by the
    Wabvpz); the pairwise ``sub`` (per client's host, OIDC Core 8.1) is what any other client gets.
    """

    kind = "citizen"
    scopes = ("openid",)
    claims = ("sub", "bsn")
    choices: tuple[TestProfessional, ...] = ()

    def __init__(self, pairwise_secret: bytes) -> None:
        self._secret = pairwise_secret

    def person(self, form: Mapping[str, str]) -> object:
        bsn = "".join(form.get("bsn", "").split())
        if not bsn:
            raise LoginRefused("bsn_missing")
        if not synthetic_bsn(bsn):
            raise LoginRefused("bsn_invalid")
        return bsn

    def person_claims(self, person: object, client_id: str, redirect_uri: str) -> dict[str, object]:
        bsn = str(person)
        sector = urlsplit(redirect_uri).hostname or client_id
        digest = hmac.new(self._secret, f"{sector}\n{bsn}".encode(), hashlib.sha256).digest()
        return {"sub": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), "bsn": bsn}

    def extra_tokens(self, person: object, issuer: str, sign: Sign) -> dict[str, str]:
        return {}


class Professionals:
    """Dezi-like: a test professional is chosen from a list; besides the id_token the token response
    carries a signed professional attestation (:mod:`samen.auth.attestations`) for the node's token requests."""

    kind = "professional"
    scopes = ("openid",)
    claims = ("sub", "uzi", "name", "role", "ura")

    def __init__(self, professionals: tuple[TestProfessional, ...]) -> None:
        self.choices = professionals
        self._by_uzi = {professional.uzi: professional for professional in professionals}

    def person(self, form: Mapping[str, str]) -> object:
        professional = self._by_uzi.get(form.get("uzi", ""))
        if professional is None:
            raise LoginRefused("professional_missing")
        return professional

    def person_claims(self, person: object, client_id: str, redirect_uri: str) -> dict[str, object]:
        assert isinstance(person, TestProfessional)
        return {"sub": person.uzi, "uzi": person.uzi, "name": person.name, "role": person.role, "ura": person.ura}

    def extra_tokens(self, person: object, issuer: str, sign: Sign) -> dict[str, str]:
        assert isinstance(person, TestProfessional)
        claims = professional_claims(issuer, uzi=person.uzi, role=person.role, ura=person.ura, name=person.name)
        return {"professional_attestation": sign(claims)}
