"""PKCE (RFC 7636) with the S256 method only: ``plain`` would hand the verifier to whoever sees the request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

S256 = "S256"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 4.1: unreserved characters, 43 to 128 of them
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")  # base64url of a SHA-256 digest, without padding


def new_verifier() -> str:
    """A fresh code verifier: 32 random bytes, base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def challenge_of(verifier: str) -> str:
    """The S256 challenge of ``verifier``: BASE64URL(SHA256(verifier)), without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def valid_challenge(challenge: str, method: str) -> bool:
    """Whether an authorization request's challenge is acceptable: S256 and of the right shape."""
    return method == S256 and bool(_CHALLENGE.fullmatch(challenge))


def verifier_matches(verifier: str, challenge: str) -> bool:
    """Whether a token request's verifier belongs to the challenge of its authorization request."""
    if not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(challenge_of(verifier), challenge)
