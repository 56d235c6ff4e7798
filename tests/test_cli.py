"""The samen command: every command and group answers --help, and serve fails early without definitions."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from samen.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=lambda p: " ".join(p) or "samen")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")
    assert len(result.output.splitlines()) > 3


def test_the_commands_the_readme_names_exist() -> None:
    assert {("serve",), ("import",), ("quickstart",), ("definitions", "fetch")} <= set(_commands(main))


def test_serve_without_definitions_says_how_to_fix_it(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SAMEN_DEFINITIONS", str(tmp_path / "none"))
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "samen definitions fetch" in result.output
