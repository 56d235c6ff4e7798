"""The trust list: who this node trusts, reloaded when the file changes, keys inline or at a jwks_uri."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from orgs import Organisation, ProfessionalIdp, request_token, write_trust_list
from serving import served_node

from samen.auth.jwks import REFETCH_S, JwksCache
from samen.auth.trust import NotTrusted, TrustList, TrustListError
from samen.fhir.model import Model
from samen.node import Node


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def practice_node(tmp_path: Path, model: Model, practice: Organisation) -> Iterator[Node]:
    """The practice's own node: it publishes the practice's keys at .well-known/jwks.json."""
    with served_node(str(tmp_path / "practice.db"), model, keys_dir=str(practice.keys.directory)) as served:
        yield served


def jwks_uri(node: Node) -> str:
    return f"{node.settings.base_url}/.well-known/jwks.json"


def test_the_list_is_reloaded_when_the_file_changes(tmp_path: Path, practice: Organisation) -> None:
    path = write_trust_list(tmp_path / "trust.json", [])
    trust = TrustList(path, recheck_s=0)
    assert trust.organisation(practice.ura) is None
    write_trust_list(path, [practice.entry()])
    found = trust.organisation(practice.ura)
    assert found is not None and found.name == "Huisartsenpraktijk De Linde" and found.organisation_type == "Z3"
    assert found.fhir_base == "https://node.test/fhir" and found.token_endpoint == "https://node.test/fhir/auth/token"
    kid = practice.keys.current().kid
    assert trust.organisation_key(practice.ura, kid)[1].kid == kid


def test_a_revoked_organisation_is_trusted_for_nothing(tmp_path: Path, practice: Organisation) -> None:
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [practice.entry(active=False)]), recheck_s=0)
    assert trust.organisation(practice.ura) is None
    with pytest.raises(NotTrusted, match="revoked"):
        trust.organisation_key(practice.ura, practice.keys.current().kid)


def test_an_unknown_organisation_or_key_is_not_trusted(tmp_path: Path, practice: Organisation) -> None:
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [practice.entry()]), recheck_s=0)
    with pytest.raises(NotTrusted, match="not in the trust list"):
        trust.organisation_key("11112222", practice.keys.current().kid)
    with pytest.raises(NotTrusted, match="has no key"):
        trust.organisation_key(practice.ura, "another-kid")


def test_without_a_file_no_one_is_trusted(practice: Organisation) -> None:
    trust = TrustList(None)
    assert trust.organisation(practice.ura) is None
    with pytest.raises(NotTrusted, match="not a trusted professional identity provider"):
        trust.issuer_key("https://dezi.test", "any", "professional")


def test_a_file_broken_at_start_stops_the_node_and_later_trusts_no_one(tmp_path: Path,
                                                                       practice: Organisation) -> None:
    path = tmp_path / "trust.json"
    path.write_text("{not json")
    with pytest.raises(TrustListError, match="not readable as JSON"):
        TrustList(path)
    write_trust_list(path, [practice.entry()])
    trust = TrustList(path, recheck_s=0)
    path.write_text('{"organisations": [{"ura": "1"}]}')
    assert trust.organisation(practice.ura) is None
    write_trust_list(path, [practice.entry()])
    assert trust.organisation(practice.ura) is not None


@pytest.mark.parametrize("change, problem", [
    ({"ura": "1234"}, "ura must be 8 digits"),
    ({"type": ""}, "type is required"),
    ({"jwks_uri": "https://node.test/jwks"}, "either jwks or jwks_uri"),
    ({"jwks": []}, "not a JWKS"),
    ({"endpoints": []}, "endpoints is an object"),
])
def test_an_entry_of_the_wrong_shape_is_named(tmp_path: Path, practice: Organisation, change: dict,
                                              problem: str) -> None:
    path = write_trust_list(tmp_path / "trust.json", [{**practice.entry(), **change}])
    with pytest.raises(TrustListError, match=problem):
        TrustList(path)


def test_an_issuer_must_be_of_a_known_kind(tmp_path: Path, dezi: ProfessionalIdp) -> None:
    path = write_trust_list(tmp_path / "trust.json", [], [dezi.entry(kind="nurse")])
    with pytest.raises(TrustListError, match="kind must be one of professional, citizen"):
        TrustList(path)


def test_private_and_foreign_keys_in_a_jwks_are_ignored(tmp_path: Path, practice: Organisation) -> None:
    private = practice.keys.current().as_dict(private=True)
    entry = {**practice.entry(), "jwks": {"keys": [private, {"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}}
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [entry]))
    for kid in (private["kid"], "s"):
        with pytest.raises(NotTrusted, match="has no key"):
            trust.organisation_key(practice.ura, kid)


def test_keys_are_fetched_from_the_jwks_uri_and_a_new_kid_is_fetched_again(
        tmp_path: Path, practice: Organisation, practice_node: Node) -> None:
    clock = Clock()
    entry = practice.entry(fhir_base=practice_node.settings.base_url, jwks_uri=jwks_uri(practice_node))
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [entry]), jwks_cache=JwksCache(clock=clock))
    keys = practice_node.auth.keys  # rotate as the practice's node does
    first = keys.current().kid
    assert trust.organisation_key(practice.ura, first)[1].kid == first
    keys.rotate()
    second = keys.current().kid
    with pytest.raises(NotTrusted, match="has no key"):  # the set was fetched a moment ago
        trust.organisation_key(practice.ura, second)
    clock.now += REFETCH_S
    assert trust.organisation_key(practice.ura, second)[1].kid == second
    assert trust.organisation_key(practice.ura, first)[1].kid == first  # the overlap keeps it published


def test_a_jwks_uri_on_another_host_than_the_endpoints_is_refused(tmp_path: Path, practice: Organisation,
                                                                  practice_node: Node) -> None:
    elsewhere = jwks_uri(practice_node).replace("127.0.0.1", "localhost")
    entry = practice.entry(fhir_base=practice_node.settings.base_url, jwks_uri=elsewhere)
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [entry]))
    with pytest.raises(NotTrusted, match="jwks_uri .* is on localhost, not on a host of its endpoints"):
        trust.organisation_key(practice.ura, practice.keys.current().kid)


def test_a_jwks_uri_without_https_is_refused_off_this_machine(tmp_path: Path, practice: Organisation) -> None:
    entry = practice.entry(fhir_base="http://praktijk.test/fhir", jwks_uri="http://praktijk.test/jwks.json")
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [entry]))
    with pytest.raises(NotTrusted, match="does not use https"):
        trust.organisation_key(practice.ura, practice.keys.current().kid)


def test_an_unreachable_jwks_uri_trusts_no_key(tmp_path: Path, practice: Organisation) -> None:
    entry = practice.entry(fhir_base="http://127.0.0.1:9/fhir", jwks_uri="http://127.0.0.1:9/fhir/jwks.json")
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [entry]))
    with pytest.raises(NotTrusted, match="unavailable"):
        trust.organisation_key(practice.ura, practice.keys.current().kid)


def test_an_identity_provider_jwks_uri_must_be_on_its_own_host(tmp_path: Path, practice_node: Node) -> None:
    idp = {"issuer": "https://dezi.test", "kind": "professional", "jwks_uri": jwks_uri(practice_node)}
    trust = TrustList(write_trust_list(tmp_path / "trust.json", [], [idp]))
    with pytest.raises(NotTrusted, match="not on a host of its endpoints"):
        trust.issuer_key("https://dezi.test", "any", "professional")


def test_tokens_over_http_with_keys_from_the_jwks_uri(tmp_path: Path, model: Model, hospital: Organisation,
                                                      practice: Organisation, practice_node: Node) -> None:
    base = practice_node.settings.base_url
    good = practice.entry(fhir_base=base, jwks_uri=jwks_uri(practice_node))
    other_host = practice.entry(fhir_base=base, jwks_uri=jwks_uri(practice_node).replace("127.0.0.1", "localhost"))
    trust_file = write_trust_list(tmp_path / "trust.json", [good])
    with served_node(str(tmp_path / "hospital.db"), model, keys_dir=str(hospital.keys.directory),
                     trust_list=str(trust_file)) as node:
        assert request_token(node.settings.base_url, practice).status_code == 200
        trust_file.write_bytes(orjson.dumps({"organisations": [other_host]}))
        node.auth.trust.recheck_s = 0  # instead of waiting a second
        answer = request_token(node.settings.base_url, practice)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
