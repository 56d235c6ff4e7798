"""The query directory after a sync: search by every criterion over HTTP (both engines), read-only to tokens, and
the trust list from the directory deciding whose tokens a node accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth.orgs import Organisation, get_token, identity, request_token
from auth.orgs import write_trust_list as write_listed
from mcsd_network import CARDIOLOGY, GP, LINDE, OOST, SPECIALTY, Network, network
from serving import served_node

from samen.directory import mcsd
from samen.directory.codes import HL7_PAYLOAD_TYPE
from samen.directory.root import SERVICE as ROOT_SERVICE
from samen.directory.trust_export import write_trust_list
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import ORGANIZATION_TYPE


@pytest.fixture
def synced(tmp_path: Path, database_url: str, model: Model) -> Iterator[tuple[Network, Node]]:
    with network(tmp_path, model) as net, served_node(database_url, model, roles=("query-directory",)) as query:
        result = net.client(query.store).run(net.root.settings.base_url)
        assert all(report.status == "ok" for report in result.reports)
        yield net, query


def _names(query: Node, path: str) -> list[str]:
    answer = httpx.get(f"{query.settings.base_url}/{path}", timeout=30)
    assert answer.status_code == 200, answer.text
    return sorted(e["resource"].get("name", e["resource"]["id"]) for e in answer.json().get("entry", [])
                  if e.get("search", {}).get("mode") == "match")


@pytest.mark.parametrize(("path", "expected"), [
    ("Organization?name=ziekenhuis", ["Ziekenhuis Oost", "Ziekenhuis Oost"]),  # the root's entry and the own one
    (f"Organization?type={ORGANIZATION_TYPE}|Z3", ["Huisartspraktijk De Linde", "Huisartspraktijk De Linde"]),
    ("Organization?address-city=Amersfoort", ["Huisartspraktijk De Linde"]),
    (f"HealthcareService?specialty={SPECIALTY}|{CARDIOLOGY}", ["Polikliniek cardiologie"]),
    (f"HealthcareService?specialty={GP}", ["Huisartsenzorg"]),
    (f"PractitionerRole?specialty={SPECIALTY}|{CARDIOLOGY}", ["PractitionerRole"]),
    ("Location?address-city=Utrecht", ["Hoofdlocatie"]),
    ("Location?address-postalcode=3811", ["Praktijk"]),
    ("Location?near=52.09|5.11|5|km", ["Hoofdlocatie"]),
    ("Location?near=52.09|5.11|30", ["Hoofdlocatie", "Praktijk"]),
    (f"Endpoint?payload-type={HL7_PAYLOAD_TYPE}|any&connection-type=hl7-fhir-rest", ["Endpoint", "Endpoint"]),
])
def test_search_the_query_directory(synced: tuple[Network, Node], path: str, expected: list[str]) -> None:
    _, query = synced
    found = _names(query, path)
    if expected and expected[0] in ("PractitionerRole", "Endpoint"):
        found = ["PractitionerRole" if "jansen" in name else "Endpoint" for name in found]
    assert found == expected


def test_administration_directories_by_payload_type(synced: tuple[Network, Node]) -> None:
    """The root's listings, copied: Endpoints with the IG's payload type of an administration directory."""
    net, query = synced
    answer = httpx.get(f"{query.settings.base_url}/Endpoint", timeout=30, params={
        "payload-type": f"{mcsd.DATA_EXCHANGE_CAPABILITIES}|{mcsd.ADMIN_DIRECTORY_CAPABILITY}"})
    assert answer.status_code == 200
    found = {e["resource"]["address"] for e in answer.json()["entry"] if e["search"]["mode"] == "match"}
    assert found == {net.admins_url(OOST), net.admins_url(LINDE)}


def test_the_query_directory_is_read_only_to_tokens(tmp_path: Path, model: Model) -> None:
    org = Organisation.create(tmp_path, "55550005", "Zorggroep Zuid", "V4")
    trust = write_listed(tmp_path / "trust.json", [org.entry(fhir_base="http://127.0.0.1/fhir")])
    query_org = Organisation.create(tmp_path, "66660006", "Adresboek", "V4")
    with served_node(str(tmp_path / "q.db"), model, open_mode=False, roles=("query-directory",),
                     **identity(query_org, trust)) as query:
        base = query.settings.base_url
        reader = get_token(base, org, scopes="system/Organization.rs", purpose="directory-query")
        assert httpx.get(f"{base}/Organization", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        writer = get_token(base, org, scopes="system/Organization.cu", purpose="directory-update")
        answer = httpx.post(f"{base}/Organization", headers={"Authorization": f"Bearer {writer}"},
                            json={"resourceType": "Organization", "name": "Nep"})
        assert answer.status_code == 403, answer.text
        anonymous = httpx.get(f"{base}/Organization")
        assert anonymous.status_code == 401


def test_trust_follows_the_directory(tmp_path: Path, database_url: str, model: Model) -> None:
    """Oost in the directory -> trust list -> its token is accepted; marked inactive in the root -> refused."""
    oost_org = Organisation.create(tmp_path, OOST, "Ziekenhuis Oost", "V4")
    settings = {OOST: {"keys_dir": str(oost_org.keys.directory), "ura": OOST, "organisation_type": "V4"}}
    holder_org = Organisation.create(tmp_path, "77770007", "Apotheek Noord", "J8")
    trust = tmp_path / "trust-from-directory.json"
    with network(tmp_path, model, **settings) as net, \
            served_node(database_url, model, roles=("query-directory",)) as query:
        client = net.client(query.store)
        client.run(net.root.settings.base_url)
        export = write_trust_list(query.store, trust)
        assert [o["ura"] for o in export.document["organisations"]] == [OOST]
        assert LINDE in export.left_out  # De Linde publishes no JWKS endpoint
        entry = export.document["organisations"][0]
        assert entry["jwks_uri"] == f"{net.admins_url(OOST)}/.well-known/jwks.json"
        assert entry["endpoints"]["fhir"] == net.admins_url(OOST)

        with served_node(str(tmp_path / "holder.db"), model, open_mode=False, **identity(holder_org, trust)) as holder:
            base = holder.settings.base_url
            token = get_token(base, oost_org, scopes="system/Organization.rs", purpose="directory-query")
            assert httpx.get(f"{base}/Organization", headers={"Authorization": f"Bearer {token}"}).status_code == 200

            net.root.services[ROOT_SERVICE].add(OOST, "Ziekenhuis Oost", "V4", net.admins_url(OOST), active=False)
            client.run(net.root.settings.base_url)
            export = write_trust_list(query.store, trust)
            assert export.document["organisations"][0]["active"] is False
            time.sleep(1.1)  # the trust list is looked at again at most once a second
            refused = request_token(base, oost_org, scopes="system/Organization.rs", purpose="directory-query")
            assert refused.status_code in (400, 401), refused.text

            net.root.services[ROOT_SERVICE].remove(OOST)
            client.run(net.root.settings.base_url)
            assert write_trust_list(query.store, trust).document["organisations"] == []
