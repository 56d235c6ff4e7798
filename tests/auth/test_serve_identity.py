"""``samen serve`` reads the identity and the trust list before any worker starts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from orgs import Organisation

from samen.cli import main


def serve(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["serve", "--db", "unused.db", *arguments])
    return result.exit_code, result.output


def test_a_ura_that_is_not_the_keys_ura_stops_the_node(tmp_path: Path) -> None:
    hospital = Organisation.create(tmp_path, "12345678")
    code, output = serve("--keys", str(hospital.keys.directory), "--ura", "87654321")
    assert code == 1 and "--ura 87654321 is not the URA of the keys" in output


def test_an_empty_key_directory_stops_the_node(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    code, output = serve("--keys", str(tmp_path / "keys"))
    assert code == 1 and "holds no keys; create them with samen keys create" in output


def test_a_broken_trust_list_stops_the_node(tmp_path: Path) -> None:
    (tmp_path / "trust.json").write_text('{"organisations": [{"ura": "12"}]}')
    code, output = serve("--trust-list", str(tmp_path / "trust.json"))
    assert code == 1 and "organisations[0]: ura must be 8 digits" in output
