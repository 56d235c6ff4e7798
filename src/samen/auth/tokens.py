"""Access tokens: issued by this node's authorization server, validated by its resource server.

An access token is a JWT signed with the node's current key that carries the whole
:class:`~samen.auth.context.AccessContext`; validating it rebuilds that context.
"""

from __future__ import annotations

from samen.auth.context import AccessContext
from samen.auth.keys import KeyStore


class AuthError(Exception):
    """Authentication failed: ``status`` 401 or 403, ``reason`` safe to show, ``detail`` for logs and audit only."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or reason


class TokenIssuer:
    """Signs access tokens with the node's current key."""

    def __init__(self, keys: KeyStore, issuer: str) -> None:
        self.keys = keys
        self.issuer = issuer

    def issue(self, context: AccessContext, *, audience: str, lifetime_s: int = 300) -> str:
        raise NotImplementedError


class TokenValidator:
    """Checks access tokens against this node's own published keys."""

    def __init__(self, keys: KeyStore, issuer: str) -> None:
        self.keys = keys
        self.issuer = issuer

    def validate(self, token: str, *, audience: str) -> AccessContext:
        """The context the token was issued for; raises :class:`AuthError` (401) when it is not valid."""
        raise NotImplementedError


def authenticate(authorization: str | None, validator: TokenValidator, *, audience: str) -> AccessContext | None:
    """For the HTTP layer: None without an Authorization header, the context for a valid bearer token,
    :class:`AuthError` for anything else."""
    raise NotImplementedError
