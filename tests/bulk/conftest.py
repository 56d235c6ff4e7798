"""A node served over real HTTP on loopback with its own bulk folder (helpers: ``bulkdata.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bulkdata import finish_exports
from serving import served_node

from samen.fhir.model import Model
from samen.node import Node

FHIR_JSON = "application/fhir+json"


@pytest.fixture
def bulk_dir(tmp_path: Path) -> Path:
    return tmp_path / "bulk"


@pytest.fixture
def node(database_url: str, model: Model, bulk_dir: Path) -> Iterator[Node]:
    with served_node(database_url, model, bulk_dir=str(bulk_dir)) as served:
        yield served
        finish_exports(served)


@pytest.fixture
def fhir(node: Node) -> Iterator[httpx.Client]:
    """An HTTP client whose base URL is the node's FHIR base (``fhir.get("Patient")``)."""
    with httpx.Client(base_url=node.settings.base_url + "/", headers={"Accept": FHIR_JSON}, timeout=30) as client:
        yield client


@pytest.fixture
def second_database_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Another fresh, empty database on the same engine as ``database_url``."""
    if not database_url.startswith("postgresql"):
        yield str(tmp_path / "second.db")
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)
