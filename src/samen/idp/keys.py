"""The signing key of a test IdP: one EC P-256 key, kept in a JWK file so that a restart keeps it.

A test IdP has no URA and no rotation schedule, so it does not use the organisations' key store;
its public key is what the node fetches from the IdP's ``jwks_uri``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson
from joserfc.jwk import ECKey

from samen.auth.jose import ALGORITHM


class IdpKey:
    """One private key; :meth:`current` and :meth:`public_jwks` as :class:`samen.auth.keys.KeyStore` has them."""

    def __init__(self, key: ECKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> IdpKey:
        return cls(ECKey.generate_key("P-256", {"alg": ALGORITHM, "use": "sig"}, private=True, auto_kid=True))

    @classmethod
    def at(cls, path: Path) -> IdpKey:
        """The key in ``path``; a new one is made and written there (mode 0600) when the file is absent."""
        if path.exists():
            return cls(ECKey.import_key(orjson.loads(path.read_bytes())))
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(orjson.dumps(key._key.as_dict(private=True)))
        return key

    def current(self) -> ECKey:
        return self._key

    def public_jwks(self) -> dict:
        public = self._key.as_dict(private=False)
        public.update(kid=self._key.kid, alg=ALGORITHM, use="sig")
        return {"keys": [public]}

    def derived_secret(self, purpose: str) -> bytes:
        """A secret for ``purpose`` (the citizen IdP's pairwise subjects) that lives as long as the key."""
        private = str(self._key.as_dict(private=True)["d"]).encode()
        return hashlib.sha256(f"samen idp {purpose}\n".encode() + private).digest()
