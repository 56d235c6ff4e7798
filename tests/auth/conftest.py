"""A node with an identity and a trust list, and the organisations around it (SQLite only: the
authorization server does not touch storage)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orgs import Organisation, ProfessionalIdp, identity, write_trust_list
from serving import served_node

from samen.fhir.model import Model
from samen.node import Node


@pytest.fixture
def hospital(tmp_path: Path) -> Organisation:
    """The organisation that runs the node under test."""
    return Organisation.create(tmp_path, "12345678", "Ziekenhuis Oost", "V4")


@pytest.fixture
def practice(tmp_path: Path) -> Organisation:
    """A GP practice that asks the hospital's node for tokens."""
    return Organisation.create(tmp_path, "87654321", "Huisartsenpraktijk De Linde", "Z3")


@pytest.fixture
def dezi() -> ProfessionalIdp:
    return ProfessionalIdp.create("https://dezi.test")


@pytest.fixture
def trust_file(tmp_path: Path, practice: Organisation, dezi: ProfessionalIdp) -> Path:
    return write_trust_list(tmp_path / "trust.json", [practice.entry()], [dezi.entry()])


@pytest.fixture
def node(tmp_path: Path, model: Model, hospital: Organisation, trust_file: Path) -> Iterator[Node]:
    with served_node(str(tmp_path / "node.db"), model, **identity(hospital, trust_file)) as served:
        yield served
