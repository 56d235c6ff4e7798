"""Recipient pseudonyms and transport tokens, and the pseudonymisation service's refusals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from samen.directory.pseudonyms import (
    ENCRYPTION_KEY_FILE,
    SECRET_FILE,
    InvalidToken,
    load_or_create_encryption_key,
    load_or_create_secret,
    public_encryption_jwks,
    recipient_pseudonym,
    seal,
    unseal,
)

BSN, OTHER = "999911120", "999990007"


def test_pseudonyms_are_deterministic_per_recipient_and_scope() -> None:
    secret = os.urandom(32)
    assert recipient_pseudonym(secret, BSN, "90000901") == recipient_pseudonym(secret, BSN, "90000901")
    assert recipient_pseudonym(secret, BSN, "90000901") != recipient_pseudonym(secret, BSN, "90000902")
    assert recipient_pseudonym(secret, BSN, "90000901") != recipient_pseudonym(secret, BSN, "90000901", "other")
    assert recipient_pseudonym(secret, BSN, "90000901") != recipient_pseudonym(secret, OTHER, "90000901")
    assert recipient_pseudonym(secret, BSN, "90000901") != recipient_pseudonym(os.urandom(32), BSN, "90000901")
    assert len(recipient_pseudonym(secret, BSN, "90000901")) == 32


def test_tokens_are_unlinkable_and_only_the_recipient_opens_them(tmp_path: Path) -> None:
    key = load_or_create_encryption_key(tmp_path)
    public = ECKey.import_key(public_encryption_jwks(key)["keys"][0])
    pseudonym = recipient_pseudonym(os.urandom(32), BSN, "90000901")
    first, second = seal(pseudonym, public), seal(pseudonym, public)
    assert first != second
    assert set(first.split(".")[1:]).isdisjoint(second.split(".")[1:])  # no shared key, IV, ciphertext or tag
    assert unseal(first, key) == unseal(second, key) == pseudonym
    with pytest.raises(InvalidToken):
        unseal(first, ECKey.generate_key("P-256", private=True))


@pytest.mark.parametrize("part", [1, 2, 3, 4])
def test_a_tampered_token_is_refused(tmp_path: Path, part: int) -> None:
    key = load_or_create_encryption_key(tmp_path)
    parts = seal(os.urandom(32), key).split(".")
    parts[part] = parts[part][:-2] + ("AA" if not parts[part].endswith("AA") else "BB")
    with pytest.raises(InvalidToken):
        unseal(".".join(parts), key)


def test_secret_and_key_files_are_private_and_kept(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    key = load_or_create_encryption_key(tmp_path)
    for name in (SECRET_FILE, ENCRYPTION_KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path) == secret
    assert load_or_create_encryption_key(tmp_path).thumbprint() == key.thumbprint()
    assert "d" not in public_encryption_jwks(key)["keys"][0]
