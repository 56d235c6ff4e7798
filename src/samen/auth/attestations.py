"""The signed statement of a professional identity provider (Dezi-like) about the acting professional.

An attestation is a compact JWS (ES256, ``kid`` in the header) with these claims:

=========  ================================================================================
``iss``    the identity provider's URL, listed as a trusted ``professional`` issuer
``sub``    the professional's UZI number (http://fhir.nl/fhir/NamingSystem/uzi-nr-pers)
``uzi``    the same UZI number
``role``   UZI role code (RoleCodeNL zorgverlenertype), e.g. ``01.015`` huisarts
``ura``    URA of the organisation the professional acts for; must be the client's URA
``name``   display name
``iat``    issued at (seconds since the epoch)
``exp``    expiry; at most one hour after ``iat``
=========  ================================================================================

The node's authorization server receives it as the ``professional_attestation`` parameter of a
token request and turns it into a :class:`~samen.auth.context.Professional`.
"""

from __future__ import annotations

import time

from samen.auth.context import Professional
from samen.auth.jose import JwsError, check_times, unverified_claims, unverified_header, verify
from samen.auth.trust import NotTrusted, TrustList

MAX_LIFETIME_S = 3600


def professional_claims(issuer: str, *, uzi: str, role: str, ura: str, name: str,
                        lifetime_s: int = MAX_LIFETIME_S, now: float | None = None) -> dict[str, object]:
    """The claims of an attestation, as an identity provider signs them."""
    issued = int(time.time() if now is None else now)
    return {"iss": issuer, "sub": uzi, "uzi": uzi, "role": role, "ura": ura, "name": name,
            "iat": issued, "exp": issued + lifetime_s}


class AttestationError(ValueError):
    """The attestation is not acceptable; the message is for logs and audit."""


def verify_professional(attestation: str, trust: TrustList, *, now: float | None = None) -> Professional:
    """The professional an attestation names, when a trusted professional identity provider signed it
    and it is current; raises :class:`AttestationError`."""
    moment = time.time() if now is None else now
    try:
        kid = unverified_header(attestation)["kid"]
        issuer = unverified_claims(attestation).get("iss")
        if not isinstance(issuer, str):
            raise JwsError("no iss")
        key = trust.issuer_key(issuer, kid, "professional")
        claims = verify(attestation, key)
        if not isinstance(claims.get("iat"), int):
            raise JwsError("no iat")
        check_times(claims, moment, max_lifetime_s=MAX_LIFETIME_S)
    except (JwsError, NotTrusted) as error:
        raise AttestationError(f"professional attestation: {error}") from error
    uzi, role, ura, name = (claims.get(claim) for claim in ("uzi", "role", "ura", "name"))
    if not (isinstance(uzi, str) and uzi and isinstance(role, str) and role and isinstance(ura, str) and ura):
        raise AttestationError("professional attestation: uzi, role and ura are required")
    if claims.get("sub") != uzi:
        raise AttestationError("professional attestation: sub is not the UZI number")
    return Professional(uzi=uzi, role=role, ura=ura, name=name if isinstance(name, str) else "")
