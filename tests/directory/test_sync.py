"""The update client against real nodes on loopback: a root, two administration directories, a query directory
on each engine. Initial load, incremental changes, deletes, a directory that is down, claims about another
organisation, loops."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from mcsd_network import LINDE, OOST, Network, delete, network, organisation, put, service

from samen.directory.sync import UpdateClient
from samen.fhir.model import Model
from samen.store.db import open_database
from samen.store.store import Store


@pytest.fixture
def query_store(database_url: str, model: Model) -> Iterator[Store]:
    database = open_database(database_url)
    database.migrate()
    yield Store(database, model)
    database.close()


@pytest.fixture
def net(tmp_path: Path, model: Model) -> Iterator[Network]:
    with network(tmp_path, model) as built:
        yield built


def _copy(store: Store, res_type: str, res_id: str) -> dict | None:
    with store.session(write=False) as session:
        found = session.read(res_type, res_id)
    return None if found is None or found.deleted else orjson.loads(found.content)


def _by_source(result, url: str):  # type: ignore[no-untyped-def]
    return next(report for report in result.reports if report.source == url)


def test_initial_load_copies_every_directory_with_namespaced_ids(net: Network, query_store: Store) -> None:
    result = net.client(query_store).run(net.root.settings.base_url)
    assert all(report.status == "ok" for report in result.reports), result.reports
    oost = _by_source(result, net.admins_url(OOST))
    assert (oost.created, oost.refused, oost.uras) == (8, 0, [OOST])
    assert _by_source(result, net.admins_url(LINDE)).created == 4
    assert _by_source(result, net.root.settings.base_url).created == 4  # 2 Organizations, 2 Endpoints

    service_copy = _copy(query_store, "HealthcareService", net.local(OOST, "oost-cardio-hs"))
    assert service_copy is not None
    assert service_copy["providedBy"]["reference"] == f"Organization/{net.local(OOST, 'oost-cardio')}"
    assert service_copy["location"][0]["reference"] == f"Location/{net.local(OOST, 'oost-loc')}"
    assert service_copy["meta"]["source"] == f"{net.admins_url(OOST)}/HealthcareService/oost-cardio-hs/_history/1"
    assert net.local(OOST, "oost") != net.local(LINDE, "oost")  # the same id in two sources never collides
    assert result.summary() == "3 sources: 16 created, 0 updated, 0 deleted, 0 refused, 0 conflicts"


def test_incremental_sync_brings_updates_and_creates_only(net: Network, query_store: Store) -> None:
    client = net.client(query_store)
    client.run(net.root.settings.base_url)
    oost = net.admins[OOST]
    put(oost, organisation("oost", "Ziekenhuis Oost (UMC)", ura=OOST, endpoints=("oost-fhir", "oost-jwks")))
    put(oost, service("oost-hart-hs", "oost", "Hartfalenpoli", "0320"))

    result = client.run(net.root.settings.base_url)
    report = _by_source(result, net.admins_url(OOST))
    assert (report.created, report.updated, report.deleted, report.refused) == (1, 1, 0, 0)
    assert report.previous_since is not None and report.since is not None
    assert _by_source(result, net.admins_url(LINDE)).created == 0
    assert _copy(query_store, "Organization", net.local(OOST, "oost"))["name"] == "Ziekenhuis Oost (UMC)"
    assert _copy(query_store, "HealthcareService", net.local(OOST, "oost-hart-hs")) is not None

    again = _by_source(client.run(net.root.settings.base_url), net.admins_url(OOST))
    assert (again.created, again.updated) == (0, 0)  # the overlap brings known versions: skipped


def test_a_delete_in_the_directory_deletes_the_copy(net: Network, query_store: Store) -> None:
    client = net.client(query_store)
    client.run(net.root.settings.base_url)
    delete(net.admins[OOST], "PractitionerRole", "jansen-cardio")
    report = _by_source(client.run(net.root.settings.base_url), net.admins_url(OOST))
    assert report.deleted == 1
    assert _copy(query_store, "PractitionerRole", net.local(OOST, "jansen-cardio")) is None


def test_a_directory_that_is_down_is_reported_kept_and_picked_up_later(net: Network, query_store: Store,
                                                                       tmp_path: Path) -> None:
    client = net.client(query_store)
    client.run(net.root.settings.base_url)
    net.stop(LINDE)
    put(net.admins[OOST], service("oost-new", "oost", "Nieuwe poli", "0320"))

    result = client.run(net.root.settings.base_url)
    down = _by_source(result, net.admins_url(LINDE))
    assert down.status == "unreachable" and "2 attempts" in down.errors[0]
    assert down.since == down.previous_since is not None  # not advanced
    assert _by_source(result, net.admins_url(OOST)).created == 1  # the others go on
    assert _copy(query_store, "Organization", net.local(LINDE, "linde")) is not None  # its data is kept
    assert "not synced" in result.summary()

    linde = net.start(LINDE)
    put(linde, service("linde-avond", "linde", "Avondspreekuur", "0100"))
    back = _by_source(client.run(net.root.settings.base_url), net.admins_url(LINDE))
    assert (back.status, back.created) == ("ok", 1)


def test_an_organisation_publishing_about_another_is_refused_and_reported(net: Network, query_store: Store) -> None:
    linde = net.admins[LINDE]
    put(linde, organisation("fake-oost", "Ziekenhuis Oost (nep)", ura=OOST))  # claims Oost's URA
    put(linde, service("fake-hs", "fake-oost", "Nep-poli", "0320"))  # offered by the refused organisation
    result = net.client(query_store).run(net.root.settings.base_url)
    report = _by_source(result, net.admins_url(LINDE))
    assert report.refused == 2
    claims = {c["resource"]: c for c in report.conflicts}
    assert claims["Organization/fake-oost"]["kind"] == "conflicting-claim"
    assert OOST in claims["Organization/fake-oost"]["reason"]
    assert "HealthcareService/fake-hs" in claims
    assert _copy(query_store, "Organization", net.local(LINDE, "fake-oost")) is None
    assert _by_source(result, net.admins_url(OOST)).refused == 0


def test_a_copy_is_deleted_when_its_new_version_claims_another_organisation(net: Network, query_store: Store) -> None:
    client = net.client(query_store)
    client.run(net.root.settings.base_url)
    put(net.admins[LINDE], organisation("linde", "Huisartspraktijk De Linde", ura=OOST, org_type="Z3"))
    report = _by_source(client.run(net.root.settings.base_url), net.admins_url(LINDE))
    assert "Organization/linde" in {c["resource"] for c in report.conflicts}
    assert _copy(query_store, "Organization", net.local(LINDE, "linde")) is None


def test_a_part_of_loop_is_refused_without_hanging(net: Network, query_store: Store) -> None:
    oost = net.admins[OOST]
    put(oost, organisation("ring-a", "Ring A"))  # created first without partOf: references must resolve
    put(oost, organisation("ring-b", "Ring B", part_of="ring-a"))
    put(oost, organisation("ring-a", "Ring A", part_of="ring-b"))
    report = _by_source(net.client(query_store).run(net.root.settings.base_url), net.admins_url(OOST))
    loops = [c for c in report.conflicts if c["kind"] == "loop"]
    assert {c["resource"] for c in loops} == {"Organization/ring-a", "Organization/ring-b"}
    assert _copy(query_store, "Organization", net.local(OOST, "ring-a")) is None


def test_a_root_that_lists_the_query_directory_itself_is_a_loop(net: Network, query_store: Store) -> None:
    from samen.directory.root import SERVICE

    net.root.services[SERVICE].add("33330003", "Lus", "V4", "http://127.0.0.1:1/query")
    result = net.client(query_store, exclude=["http://127.0.0.1:1/query"]).run(net.root.settings.base_url)
    assert [c["kind"] for c in result.listing_conflicts] == ["loop"]
    assert len(result.reports) == 3


def test_a_next_link_that_repeats_stops_the_type(tmp_path: Path, model: Model) -> None:
    """A misbehaving directory (no samen node would): its history's next link points to itself."""
    root_url, directory = "http://root.test/fhir", "http://dir.test/fhir"

    def answer(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(root_url):
            entries = []
            if "/Organization/" in url:
                entries = [{"resource": organisation("o", "Loop BV", ura="44440004", endpoints=("e",)) | {"id": "o"}}]
            elif "/Endpoint/" in url:
                from samen.directory.mcsd import admin_directory_endpoint
                entries = [{"resource": admin_directory_endpoint("e", directory, "44440004")}]
            return httpx.Response(200, json={"resourceType": "Bundle", "type": "history", "entry": entries})
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "history", "entry": [],
                                         "link": [{"relation": "next", "url": f"{directory}/again"}]})

    database = open_database(str(tmp_path / "q.db"))
    database.migrate()
    client = UpdateClient(Store(database, model), http=httpx.Client(transport=httpx.MockTransport(answer)))
    result = client.run(root_url)
    report = _by_source(result, directory)
    assert report.status == "ok"
    assert {c["kind"] for c in report.conflicts} == {"loop"}
    database.close()


def test_a_ura_listed_with_two_directories_belongs_to_the_first(net: Network, query_store: Store) -> None:
    from samen.directory.mcsd import admin_directory_endpoint

    root = net.root  # open mode: a second entry for Oost's URA, listing De Linde's directory
    put(root, admin_directory_endpoint("second-ep", net.admins_url(LINDE), OOST))
    put(root, organisation("second", "Ziekenhuis Oost (tweede)", ura=OOST, endpoints=("second-ep",)))
    put(net.admins[LINDE], organisation("oost-via-linde", "Ziekenhuis Oost", ura=OOST))
    result = net.client(query_store).run(net.root.settings.base_url)
    assert [c["kind"] for c in result.listing_conflicts] == ["conflicting-claim"]
    assert net.admins_url(OOST) in result.listing_conflicts[0]["reason"]
    linde = _by_source(result, net.admins_url(LINDE))
    assert linde.uras == [LINDE]
    assert "Organization/oost-via-linde" in {c["resource"] for c in linde.conflicts}


def test_an_owner_on_another_server_is_not_this_directorys(net: Network, query_store: Store) -> None:
    """``https://elsewhere/fhir/Organization/linde`` is not De Linde's own Organization/linde."""
    from mcsd_network import location

    elsewhere = location("elders", "linde", "Elders", "Zeist", "3701 AA", 52.09, 5.23)
    elsewhere["managingOrganization"] = {"reference": "https://elsewhere.example/fhir/Organization/linde"}
    put(net.admins[LINDE], elsewhere)
    report = _by_source(net.client(query_store).run(net.root.settings.base_url), net.admins_url(LINDE))
    assert {c["resource"] for c in report.conflicts} == {"Location/elders"}
    assert _copy(query_store, "Location", net.local(LINDE, "elders")) is None
