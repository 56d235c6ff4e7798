"""``samen keys``: create, rotate, list and print the JWKS of an organisation's signing keys."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from samen.auth.keys import KeyStore
from samen.cli import main


def keys(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["keys", *arguments])
    return result.exit_code, result.output


def test_create_writes_one_private_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    code, output = keys("create", "--ura", "12345678", "--dir", str(directory))
    assert code == 0, output
    files = list(directory.glob("*.json"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    stored = json.loads(files[0].read_text())
    assert stored["ura"] == "12345678" and stored["jwk"]["crv"] == "P-256" and "d" in stored["jwk"]
    assert stored["jwk"]["kid"] in output


def test_create_refuses_a_bad_ura_and_a_directory_with_keys(tmp_path: Path) -> None:
    directory = str(tmp_path / "keys")
    assert keys("create", "--ura", "1234", "--dir", directory) == (1, "Error: '1234' is not a URA (8 digits)\n")
    assert keys("create", "--ura", "12345678", "--dir", directory)[0] == 0
    code, output = keys("create", "--ura", "12345678", "--dir", directory)
    assert code == 1 and "already holds keys; use rotate" in output


def test_rotate_makes_a_new_current_key_and_keeps_the_old_one_published(tmp_path: Path) -> None:
    directory = str(tmp_path / "keys")
    keys("create", "--ura", "12345678", "--dir", directory)
    first = KeyStore(Path(directory)).signing_key().kid
    code, output = keys("rotate", "--dir", directory, "--overlap-hours", "2")
    assert code == 0, output
    second = KeyStore(Path(directory)).signing_key().kid
    assert second != first and second in output
    code, listing = keys("list", "--dir", directory)
    assert code == 0 and listing.splitlines()[0] == "URA 12345678"
    states = {line.split()[0]: line.split()[1] for line in listing.splitlines()[1:]}
    assert states == {first: "valid", second: "current"}
    code, printed = keys("jwks", "--dir", directory)
    published = json.loads(printed)["keys"]
    assert {key["kid"] for key in published} == {first, second}
    assert all("d" not in key and key["alg"] == "ES256" and key["use"] == "sig" for key in published)


def test_rotate_and_list_refuse_an_empty_directory(tmp_path: Path) -> None:
    directory = str(tmp_path / "none")
    assert keys("rotate", "--dir", directory)[1] == f"Error: {directory} holds no keys; use create\n"
    assert "no keys in" in keys("list", "--dir", directory)[1]
