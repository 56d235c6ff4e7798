"""An organisation's signing keys on disk: EC P-256 private JWKs, rotated with overlapping validity.

Other nodes cache a published JWKS for a while, and tokens signed just before a rotation must still
verify, so a rotated-out key stays published (and accepted) until its not-after; then it drops out.
"""

from __future__ import annotations

from pathlib import Path

from joserfc.jwk import ECKey


class KeyStore:
    """The signing keys of one organisation, kept as one JSON file per key in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def current(self) -> ECKey:
        """The key to sign with now: the newest one whose validity has begun and not ended."""
        raise NotImplementedError

    def public_jwks(self) -> dict:
        """``{"keys": [...]}``: the public halves of every key that has not expired."""
        raise NotImplementedError
