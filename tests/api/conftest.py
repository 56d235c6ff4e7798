from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from serving import served_node

from samen.fhir.model import Model
from samen.node import Node


@pytest.fixture
def node(database_url: str, model: Model) -> Iterator[Node]:
    with served_node(database_url, model, max_body_bytes=256 * 1024) as served:
        yield served


@pytest.fixture
def fhir(node: Node) -> Iterator[httpx.Client]:
    """An HTTP client whose base URL is the node's FHIR base (``fhir.get("Patient")``)."""
    headers = {"Accept": "application/fhir+json"}
    with httpx.Client(base_url=node.settings.base_url + "/", headers=headers, timeout=30) as client:
        yield client
