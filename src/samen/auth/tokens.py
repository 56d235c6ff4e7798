"""Access tokens: issued by this node's authorization server, validated by its resource server.

An access token is a JWT (RFC 9068 shape, ``typ: at+jwt``) signed with the node's current key. It
carries the whole :class:`~samen.auth.context.AccessContext`, so validating it rebuilds the context
without looking anything up. Validation is cached by the token's exact text until it expires, so a
client that reuses its token pays for the signature check once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from samen.auth.context import AccessContext, Professional
from samen.auth.jose import JwsError, audiences, check_times, sign, unverified_header, verify
from samen.auth.keys import KeyStore

TOKEN_TYPE = "at+jwt"
TOKEN_KINDS = ("system", "patient")  # "open" is never put in a token
MAX_CACHED = 50_000


class AuthError(Exception):
    """Authentication failed: ``status`` 401 or 403, ``reason`` safe to show, ``detail`` for logs and audit only."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or reason

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header value (RFC 6750) for this refusal."""
        error = "invalid_token" if self.status == 401 else "insufficient_scope"
        return f'Bearer error="{error}", error_description="{self.reason}"'


class TokenIssuer:
    """Signs access tokens with the node's current key; a token never outlives the key that signed it."""

    def __init__(self, keys: KeyStore, issuer: str, *, clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.issuer = issuer
        self.clock = clock

    def issue(self, context: AccessContext, *, audience: str, lifetime_s: int = 300) -> str:
        if context.kind not in TOKEN_KINDS:
            raise ValueError(f"no access token for a context of kind {context.kind!r}")
        key = self.keys.signing_key()
        now = int(self.clock())
        claims = {
            "iss": self.issuer, "aud": audience, "sub": context.client_ura, "client_id": context.client_ura,
            "iat": now, "nbf": now, "exp": min(now + lifetime_s, int(key.not_after)),
            "jti": secrets.token_urlsafe(16), **context_claims(context),
        }
        return sign(claims, key.jwk, typ=TOKEN_TYPE)


@dataclass(frozen=True)
class _Validated:
    """A validated token, until ``expires`` and as long as key ``kid`` stays published (a key file
    removed after a compromise ends every token it signed at once)."""

    context: AccessContext
    audience: str
    expires: float
    kid: str


class TokenValidator:
    """Checks access tokens against this node's own published keys (current and overlapping)."""

    def __init__(self, keys: KeyStore, issuer: str, *, clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.issuer = issuer
        self.clock = clock
        self._cache: dict[str, _Validated] = {}  # by the token's exact text
        self._lock = threading.Lock()

    def validate(self, token: str, *, audience: str) -> AccessContext:
        """The context the token was issued for; raises :class:`AuthError` (401) when it is not valid."""
        now = self.clock()
        cached = self._cache.get(token)
        if cached is not None and now < cached.expires and self.keys.verification_key(cached.kid) is not None:
            if cached.audience != audience:
                raise AuthError(401, "The access token is not for this server", f"audience {cached.audience}")
            return cached.context
        validated = self._check(token, audience, now)
        self._remember(token, validated, now)
        return validated.context

    def _check(self, token: str, audience: str, now: float) -> _Validated:
        try:
            header = unverified_header(token)
            if header.get("typ") != TOKEN_TYPE:
                raise JwsError(f"typ {str(header.get('typ'))[:20]!r} is not {TOKEN_TYPE}")
            key = self.keys.verification_key(header["kid"])
            if key is None:
                raise JwsError(f"no published key {header['kid'][:60]!r} (unknown or expired)")
            claims = verify(token, key.jwk)
            if claims.get("iss") != self.issuer:
                raise JwsError(f"issuer {str(claims.get('iss'))[:100]!r}")
            check_times(claims, now)
        except JwsError as error:
            reason = "The access token has expired" if str(error) == "expired" else "The access token is not valid"
            raise AuthError(401, reason, f"access token: {error}") from error
        if audience not in audiences(claims):
            raise AuthError(401, "The access token is not for this server", f"audience {claims.get('aud')!r}")
        try:
            context = context_from_claims(claims)
        except (KeyError, TypeError, ValueError) as error:
            raise AuthError(401, "The access token is not valid", f"access token claims: {error!r}") from error
        return _Validated(context, audience, float(claims["exp"]), key.kid)

    def _remember(self, token: str, entry: _Validated, now: float) -> None:
        if len(self._cache) >= MAX_CACHED:
            with self._lock:
                for old in [old for old, validated in list(self._cache.items()) if validated.expires <= now]:
                    self._cache.pop(old, None)
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
        self._cache[token] = entry


def authenticate(authorization: str | None, validator: TokenValidator, *, audience: str) -> AccessContext | None:
    """For the HTTP layer: None without an Authorization header, the context for a valid bearer token,
    :class:`AuthError` for anything else."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "Send the access token as Authorization: Bearer <token>", f"scheme {scheme[:20]!r}")
    return validator.validate(token.strip(), audience=audience)


def context_claims(context: AccessContext) -> dict[str, Any]:
    """The claims that carry ``context`` in an access token (only the non-empty ones)."""
    claims: dict[str, Any] = {"kind": context.kind, "scope": " ".join(sorted(context.scopes))}
    if context.client_type:
        claims["client_type"] = context.client_type
    if context.professional is not None:
        professional = context.professional
        claims["professional"] = {"uzi": professional.uzi, "role": professional.role, "ura": professional.ura,
                                  "name": professional.name}
    if context.purpose:
        claims["purpose_of_use"] = context.purpose
    if context.patient_bsn:
        claims["patient_bsn"] = context.patient_bsn
    if context.patient_ids:
        claims["patient_ids"] = sorted(context.patient_ids)
    if context.task:
        claims["task"] = context.task
    if context.reason:
        claims["break_the_glass_reason"] = context.reason
    return claims


def context_from_claims(claims: dict[str, Any]) -> AccessContext:
    """The context of a verified access token; raises KeyError, TypeError or ValueError for bad claims."""
    kind = claims["kind"]
    if kind not in TOKEN_KINDS:
        raise ValueError(f"kind {kind!r}")
    professional = claims.get("professional")
    return AccessContext(
        kind=kind,
        scopes=frozenset(_text(claims, "scope").split()),
        client_ura=_text(claims, "client_id"),
        client_type=_text(claims, "client_type"),
        professional=Professional(**{name: str(professional[name]) for name in ("uzi", "role", "ura", "name")})
        if professional is not None else None,
        purpose=_text(claims, "purpose_of_use"),
        patient_bsn=_text(claims, "patient_bsn"),
        patient_ids=frozenset(str(value) for value in claims.get("patient_ids", ())),
        token_id=_text(claims, "jti") or _missing("jti"),
        task=_text(claims, "task"),
        reason=_text(claims, "break_the_glass_reason"),
    )


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name, "")
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _missing(name: str) -> str:
    raise KeyError(name)
