"""Compact JWS for the network: ES256 only, a ``kid`` in every header, times checked with a small leeway.

Every signed thing the node reads (client assertions, professional attestations, access tokens) goes
through :func:`verify`, so no other algorithm (``none``, HS256 with a public key as secret, RS256)
can ever be accepted by accident.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

ALGORITHM = "ES256"
LEEWAY_S = 30  # clock difference tolerated between nodes


class JwsError(ValueError):
    """A token that is malformed, wrongly signed or outside its validity; the message is for logs."""


def sign(claims: Mapping[str, Any], key: ECKey, *, typ: str = "JWT") -> str:
    """A compact JWS of ``claims``, signed with ``key`` and naming it by ``kid``."""
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
    return jwt.encode(header, dict(claims), key, algorithms=[ALGORITHM])


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header, to find the key by ``kid``; refuses anything but ES256 with a kid."""
    head, dot, _ = token.partition(".")
    if not dot:
        raise JwsError("not a compact JWS")
    header = _decode_segment(head, "header")
    if header.get("alg") != ALGORITHM:
        raise JwsError(f"algorithm {str(header.get('alg'))[:20]!r} is not accepted; only {ALGORITHM}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise JwsError("no kid in the JWS header")
    if "crit" in header:
        raise JwsError("critical header parameters are not supported")
    return header


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload before its signature is checked: only to find out who claims to have signed it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("not a compact JWS")
    return _decode_segment(parts[1], "payload")


def verify(token: str, key: ECKey) -> dict[str, Any]:
    """The claims of ``token`` when ``key`` signed it with ES256; raises :class:`JwsError`."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
    except (JoseError, ValueError) as error:
        raise JwsError(f"signature not valid ({type(error).__name__})") from error
    if not isinstance(claims, dict):
        raise JwsError("the payload is not a JSON object")
    return claims


def check_times(claims: Mapping[str, Any], now: float, *, max_lifetime_s: int | None = None) -> None:
    """``exp`` required and not passed, ``nbf`` and ``iat`` not in the future (each within the leeway);
    with ``max_lifetime_s``, ``exp`` no further than that after ``iat`` (or now, without ``iat``)."""
    exp = claims.get("exp")
    if not _is_time(exp):
        raise JwsError("no valid exp")
    if exp <= now - LEEWAY_S:
        raise JwsError("expired")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None and (not _is_time(value) or value > now + LEEWAY_S):
            raise JwsError(f"{name} is not valid or in the future")
    if max_lifetime_s is not None:
        issued = claims.get("iat")
        start = min(issued, now) if _is_time(issued) else now
        if exp - start > max_lifetime_s + LEEWAY_S:
            raise JwsError(f"exp is more than {max_lifetime_s} s ahead")


def audiences(claims: Mapping[str, Any]) -> list[object]:
    """``aud`` as a list (RFC 7519 allows one string or an array)."""
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [aud]


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, orjson.JSONDecodeError) as error:
        raise JwsError(f"unreadable JWS {what}") from error
    if not isinstance(value, dict):
        raise JwsError(f"the JWS {what} is not a JSON object")
    return value


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
