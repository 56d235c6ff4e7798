"""Outbound: this organisation asks another node for an access token (SMART Backend Services).

A node that registers at the localization index, asks the consent registry the closed question, or
retrieves a BgZ is the *client* of another node's authorization server. It authenticates with a
``private_key_jwt`` client assertion (RFC 7523) signed with its own key, names the purpose of use,
and reuses a token for the same request until shortly before it expires.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from samen.auth.authorization_server import CLIENT_ASSERTION_TYPE
from samen.auth.jose import sign
from samen.auth.keys import KeyStore

ASSERTION_LIFETIME_S = 60
RENEW_BEFORE_S = 30  # a cached token is not handed out when it expires sooner than this


class TokenRefused(Exception):
    """The other node's authorization server refused (or could not be reached); the message says why."""


@dataclass(frozen=True)
class TokenRequest:
    """What a token is asked for; equal requests share a cached token."""

    token_endpoint: str
    purpose: str
    scopes: str
    patient: str = ""  # BSN the token is to be bound to
    task: str = ""  # eOverdracht Task id the token is to be bound to
    professional_attestation: str = ""


class TokenClient:
    """Tokens of this organisation (its URA and signing keys) at other nodes; thread-safe."""

    def __init__(self, keys: KeyStore, *, http: httpx.Client | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.http = http or httpx.Client(timeout=10)
        self.clock = clock
        self._tokens: dict[TokenRequest, tuple[str, float]] = {}  # request -> (token, expires at)
        self._lock = threading.Lock()

    def token(self, request: TokenRequest, *, timeout_s: float | None = None) -> str:
        """A valid access token for ``request``; raises :class:`TokenRefused`. ``timeout_s`` bounds the request
        (default: the HTTP client's timeout), so that a caller's time limit holds for its thread too."""
        now = self.clock()
        with self._lock:
            cached = self._tokens.get(request)
        if cached is not None and cached[1] - RENEW_BEFORE_S > now:
            return cached[0]
        token, lifetime = self._request(request, timeout_s)
        with self._lock:
            if len(self._tokens) > 1000:
                self._tokens = {key: value for key, value in self._tokens.items() if value[1] > now}
            self._tokens[request] = (token, now + lifetime)
        return token

    def forget(self, request: TokenRequest) -> None:
        """Drop a cached token (after the other node answered 401 to it)."""
        with self._lock:
            self._tokens.pop(request, None)

    def assertion(self, token_endpoint: str) -> str:
        """A client assertion for ``token_endpoint``, signed with the current key."""
        ura = self.keys.ura
        now = int(self.clock())
        claims = {"iss": ura, "sub": ura, "aud": token_endpoint, "iat": now, "nbf": now,
                  "exp": now + ASSERTION_LIFETIME_S, "jti": secrets.token_urlsafe(16)}
        return sign(claims, self.keys.current())

    def _request(self, request: TokenRequest, timeout_s: float | None) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": self.assertion(request.token_endpoint), "scope": request.scopes,
                "purpose_of_use": request.purpose}
        optional = {"patient": request.patient, "task": request.task,
                    "professional_attestation": request.professional_attestation}
        form.update({name: value for name, value in optional.items() if value})
        try:
            answer = self.http.post(request.token_endpoint, data=form,
                                    timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s)
        except httpx.HTTPError as error:
            raise TokenRefused(f"token endpoint {request.token_endpoint} unreachable: {error}") from error
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
            reason = body.get("error_description") or body.get("error") or answer.text[:200]
            raise TokenRefused(f"token refused by {request.token_endpoint} ({answer.status_code}): {reason}")
        return body["access_token"], float(body.get("expires_in", 60))
