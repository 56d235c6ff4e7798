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

MAX_LIFETIME_S = 3600


def professional_claims(issuer: str, *, uzi: str, role: str, ura: str, name: str,
                        lifetime_s: int = MAX_LIFETIME_S, now: float | None = None) -> dict[str, object]:
    """The claims of an attestation, as an identity provider signs them."""
    issued = int(time.time() if now is None else now)
    return {"iss": issuer, "sub": uzi, "uzi": uzi, "role": role, "ura": ura, "name": name,
            "iat": issued, "exp": issued + lifetime_s}
