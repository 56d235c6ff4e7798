"""Signing keys on disk: which key signs, which are published, and what another process sees."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from samen.auth.keys import KeyStore, KeyStoreError, NoSigningKey


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def published(keys: KeyStore) -> set[str]:
    return {key["kid"] for key in keys.public_jwks()["keys"]}


def test_the_newest_valid_key_signs_and_expired_keys_are_neither_published_nor_accepted(tmp_path: Path) -> None:
    clock = Clock()
    keys = KeyStore(tmp_path / "keys", clock=clock)
    first = keys.create("12345678", validity_s=1000)
    assert keys.ura == "12345678" and keys.current().kid == first.kid
    clock.now += 10
    second = keys.rotate(overlap_s=100, validity_s=1000)
    assert keys.current().kid == second.kid and published(keys) == {first.kid, second.kid}
    assert keys.verification_key(first.kid) is not None
    clock.now += 100
    assert published(keys) == {second.kid} and keys.verification_key(first.kid) is None
    clock.now += 1000
    assert published(keys) == set()
    with pytest.raises(NoSigningKey):
        keys.current()


def test_a_rotation_never_lengthens_the_life_of_an_old_key(tmp_path: Path) -> None:
    clock = Clock()
    keys = KeyStore(tmp_path / "keys", clock=clock)
    first = keys.create("12345678", validity_s=50)
    keys.rotate(overlap_s=3600)
    assert next(key for key in keys.keys() if key.kid == first.kid).not_after == pytest.approx(first.not_after, abs=1)


def test_another_process_sees_a_rotation_within_a_second(tmp_path: Path) -> None:
    node = KeyStore(tmp_path / "keys")
    node.create("12345678")
    before = node.current().kid
    rotated = KeyStore(tmp_path / "keys").rotate()  # as samen keys rotate does, next to a running node
    time.sleep(1.1)
    assert node.current().kid == rotated.kid != before


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir()
    (directory / "broken.json").write_text('{"ura": "12345678"}')
    with pytest.raises(KeyStoreError, match="broken.json is not a readable key file"):
        KeyStore(directory).keys()


def test_a_public_key_file_is_not_a_signing_key(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    key = keys.create("12345678")
    path = tmp_path / "keys" / f"{key.kid}.json"
    stored = key.to_json()
    stored["jwk"].pop("d")
    path.write_bytes(orjson.dumps(stored))
    with pytest.raises(KeyStoreError, match="private EC P-256"):
        KeyStore(tmp_path / "keys").keys()
