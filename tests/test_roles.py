"""Roles are switched on by name; an unknown name stops the node before it serves."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from samen.cli import main
from samen.fhir.model import Model
from samen.node import Node
from samen.settings import Settings


def test_serve_refuses_an_unknown_role() -> None:
    result = CliRunner().invoke(main, ["serve", "--role", "lighthouse", "--open"])
    assert result.exit_code == 2
    assert "unknown role(s) lighthouse" in result.output
    assert "localization-index" in result.output  # the known ones are named


def test_a_node_with_an_unknown_role_does_not_open(tmp_path, model: Model) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Node.open(str(tmp_path / "node.db"), Settings(roles=("lighthouse",)), model)
