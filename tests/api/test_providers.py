"""Types served by a provider of their own go through the same routing, judging and transactions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from serving import served_node

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Route
from samen.auth.enforcement import Grant
from samen.fhir.model import Model
from samen.node import Node
from samen.store.store import Session


class CountingBasic:
    """Answers reads of Basic with how often it was asked; creates are not supported."""

    interactions = frozenset({"read"})

    def __init__(self) -> None:
        self.served: list[tuple[str, str | None, str]] = []

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse:
        self.served.append((route.asked.interaction, route.res_id, grant.decision.rule))
        return FhirResponse(200, {"resourceType": "Basic", "id": route.res_id,
                                  "code": {"text": f"served {len(self.served)}"}})


def _serve(database_url: str, model: Model, *, open_mode: bool) -> Iterator[tuple[Node, CountingBasic]]:
    with served_node(database_url, model, open_mode=open_mode) as node:
        provider = CountingBasic()
        node.router.register_provider("Basic", provider)
        yield node, provider


@pytest.fixture
def open_node(database_url: str, model: Model) -> Iterator[tuple[Node, CountingBasic]]:
    yield from _serve(database_url, model, open_mode=True)


def test_a_provider_answers_for_its_type(open_node: tuple[Node, CountingBasic]) -> None:
    node, provider = open_node
    answer = httpx.get(f"{node.settings.base_url}/Basic/seven")
    assert answer.status_code == 200
    assert answer.json()["code"]["text"] == "served 1"
    assert provider.served == [("read", "seven", "open-mode")]
    assert httpx.get(f"{node.settings.base_url}/Patient/seven").status_code == 404  # other types: the store


def test_an_interaction_the_provider_lacks_is_a_405(open_node: tuple[Node, CountingBasic]) -> None:
    node, provider = open_node
    answer = httpx.post(f"{node.settings.base_url}/Basic", json={"resourceType": "Basic", "code": {"text": "x"}})
    assert answer.status_code == 405
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert provider.served == []


def test_a_provider_is_behind_the_policy(database_url: str, model: Model) -> None:
    for node, provider in _serve(database_url, model, open_mode=False):
        answer = httpx.get(f"{node.settings.base_url}/Basic/seven")
        assert answer.status_code == 401
        assert provider.served == []


def test_an_unknown_type_cannot_be_provided(open_node: tuple[Node, CountingBasic]) -> None:
    node, _ = open_node
    with pytest.raises(ValueError, match="Unknown"):
        node.router.register_provider("Unknown", CountingBasic())
