"""Recipient pseudonyms and transport tokens, and the pseudonymisation service's refusals."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from joserfc import jwe
from joserfc.jwk import ECKey

from samen.directory.pseudonyms import (
    ENCRYPTION_KEY_FILE,
    SECRET_FILE,
    InvalidToken,
    LooseKeyFile,
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


def test_a_token_with_critical_header_extensions_is_refused(tmp_path: Path) -> None:
    """RFC 7516 4.1.13: a recipient that does not process what ``crit`` names must refuse the JWE."""
    key = load_or_create_encryption_key(tmp_path)
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "k", "crit": ["kid"]}
    token = jwe.encrypt_compact(header, os.urandom(32), key, algorithms=["ECDH-ES+A256KW", "A256GCM"])
    with pytest.raises(InvalidToken, match="critical"):
        unseal(token, key)


@pytest.mark.parametrize("name", [SECRET_FILE, ENCRYPTION_KEY_FILE])
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_secret_or_key_file_others_may_read_or_write_is_refused(tmp_path: Path, name: str, mode: int) -> None:
    load = load_or_create_secret if name == SECRET_FILE else load_or_create_encryption_key
    load(tmp_path)
    (tmp_path / name).chmod(mode)
    with pytest.raises(LooseKeyFile, match="chmod 600"):
        load(tmp_path)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode  # left for the operator to decide


def test_threads_creating_the_key_at_once_all_get_the_same_key(tmp_path: Path) -> None:
    """Several workers' threads may start at once: each writes a temporary file of its own, one wins."""
    with ThreadPoolExecutor(8) as pool:
        thumbprints = set(pool.map(lambda _: load_or_create_encryption_key(tmp_path).thumbprint(), range(32)))
    assert len(thumbprints) == 1
    assert [p.name for p in tmp_path.iterdir()] == [ENCRYPTION_KEY_FILE]
