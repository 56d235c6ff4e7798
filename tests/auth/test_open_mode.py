"""Secure by default: without ``--open`` a node wants a token for everything but its public documents;
open mode is for development on loopback only, refused elsewhere and announced at every start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from serving import served_node

from samen.cli import main
from samen.fhir.model import Model
from samen.node import Node
from samen.settings import Settings


def test_a_node_refuses_unauthenticated_requests_unless_open(tmp_path: Path, model: Model) -> None:
    with served_node(str(tmp_path / "secure.db"), model, open_mode=False) as node:
        answer = httpx.get(f"{node.settings.base_url}/Patient")
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    with served_node(str(tmp_path / "open.db"), model) as node:
        assert httpx.get(f"{node.settings.base_url}/Patient").status_code == 200


@pytest.mark.parametrize("args", [["--host", "0.0.0.0"], ["--host", "192.168.1.5"],
                                  ["--base-url", "http://node.example/fhir"]])
def test_serve_refuses_open_mode_off_loopback(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, ["serve", "--open", "--db", str(tmp_path / "x.db"), *args])
    assert result.exit_code == 2
    assert "is not a loopback address" in result.output


@pytest.mark.parametrize("base_url", ["http://10.0.0.1:8080/fhir", "https://zorg.example/fhir"])
def test_a_node_is_never_opened_in_open_mode_off_loopback(tmp_path: Path, model: Model, base_url: str) -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        Node.open(str(tmp_path / "x.db"), Settings(base_url=base_url, open_mode=True), model)


def test_open_mode_is_announced_at_every_start(tmp_path: Path, model: Model, caplog: pytest.LogCaptureFixture,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        settings = Settings(base_url="http://[::1]:8080/fhir", open_mode=True)
        Node.open(str(tmp_path / "x.db"), settings, model).close()
    printed = capsys.readouterr()  # structlog prints itself until `samen serve` routes it through logging
    logged = caplog.text + printed.out + printed.err
    assert logged.count("open mode: this node serves every request without authentication") == 2


def test_quickstart_says_it_runs_open_and_only_on_loopback(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["quickstart", "--no-serve", "--db", str(tmp_path / "q.db"), "--patients", "1"])
    assert done.exit_code == 0, done.output
    assert "Open development mode: no access token needed" in done.stdout
    assert "samen serve --open" in done.stdout
    refused = CliRunner().invoke(main, ["quickstart", "--db", str(tmp_path / "q.db"), "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "is not a loopback address" in refused.output
