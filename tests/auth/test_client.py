"""This organisation asking another node for tokens: signed assertion, cache, refusals."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from orgs import Organisation, identity
from serving import served_node

from samen.auth.client import RENEW_BEFORE_S, TokenClient, TokenRefused, TokenRequest
from samen.fhir.model import Model
from samen.node import Node


def _request(node: Node, purpose: str = "bgz", scopes: str = "system/Patient.rs") -> TokenRequest:
    return TokenRequest(f"{node.settings.base_url}/auth/token", purpose, scopes)


def test_a_token_is_issued_and_reused(node: Node, practice: Organisation) -> None:
    client = TokenClient(practice.keys)
    token = client.token(_request(node, "directory-query", "system/Organization.rs"))
    assert client.token(_request(node, "directory-query", "system/Organization.rs")) == token  # cached
    answer = httpx.get(f"{node.settings.base_url}/Organization", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert client.token(_request(node, "medication-transfer")) != token  # another purpose, another token


def test_a_token_close_to_expiry_is_not_reused(tmp_path: Path, model: Model, hospital: Organisation,
                                                practice: Organisation, trust_file: Path) -> None:
    short = {**identity(hospital, trust_file), "token_lifetime_s": RENEW_BEFORE_S - 5}
    with served_node(str(tmp_path / "short.db"), model, **short) as node:
        client = TokenClient(practice.keys)
        assert client.token(_request(node)) != client.token(_request(node))


def test_an_untrusted_organisation_is_refused(node: Node, tmp_path: Path) -> None:
    stranger = Organisation.create(tmp_path, "11112222", "Onbekend")
    with pytest.raises(TokenRefused, match="401"):
        TokenClient(stranger.keys).token(_request(node))


def test_an_unreachable_token_endpoint_is_a_refusal(practice: Organisation) -> None:
    request = TokenRequest("http://127.0.0.1:9/fhir/auth/token", "bgz", "system/Patient.rs")
    with pytest.raises(TokenRefused, match="unreachable"):
        TokenClient(practice.keys).token(request)
