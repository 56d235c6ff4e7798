"""The update client against hostile or broken administration directories (served by an httpx mock transport, so
that a directory can answer what no samen node would): next links and redirects off the directory, garbage
clocks, huge and slow answers, a directory address chosen to collide with the root's id prefix, and the trust
list that must only take an organisation's keys from the directory the root lists for it."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mcsd_network import endpoint, organisation

from samen.directory.mcsd import admin_directory_endpoint
from samen.directory.sync import Source, UpdateClient, local_id
from samen.directory.trust_export import trust_list
from samen.fhir.model import Model
from samen.store.db import open_database
from samen.store.store import Store

ROOT = "http://root.test/fhir"
GOOD, EVIL = "33330003", "44440004"
Answer = Callable[[httpx.Request], "httpx.Response | None"]


def bundle(*resources: dict[str, Any], link: list[dict[str, str]] | None = None,
           last_updated: Any = "2025-01-01T00:00:00Z") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "history", "meta": {"lastUpdated": last_updated},
            "entry": [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                      for r in resources], **({"link": link} if link else {})}


class Directories:
    """A root listing URAs with directory addresses, and per address a function answering its requests."""

    def __init__(self) -> None:
        self.listing: list[tuple[str, str]] = []  # (URA, directory address)
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []

    def list(self, ura: str, address: str, answer: Answer) -> None:
        self.listing.append((ura, address))
        self.answers[address] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url.startswith(ROOT + "/"):
            if "/Organization/" in url:
                return httpx.Response(200, json=bundle(*[
                    organisation(f"ura-{ura}", f"Org {ura}", ura=ura, endpoints=(f"ura-{ura}-dir",))
                    for ura, _ in reversed(self.listing)]))  # newest first, as a history is
            return httpx.Response(200, json=bundle(*[admin_directory_endpoint(f"ura-{ura}-dir", address, ura)
                                                     for ura, address in self.listing]))
        for address, answer in self.answers.items():
            if url.startswith(address + "/"):
                response = answer(request)
                if response is not None:
                    return response
                return httpx.Response(200, json=bundle())
        return httpx.Response(404, json={"resourceType": "OperationOutcome"})


@pytest.fixture
def store(tmp_path: Path, model: Model) -> Iterator[Store]:
    database = open_database(str(tmp_path / "query.db"))
    database.migrate()
    yield Store(database, model)
    database.close()


def client(store: Store, directories: Directories, **options: Any) -> UpdateClient:
    return UpdateClient(store, http=httpx.Client(transport=httpx.MockTransport(directories)), attempts=1,
                        backoff_s=0, **options)


def report_of(result: Any, url: str) -> Any:
    return next(r for r in result.reports if r.source == url)


def live(store: Store, res_type: str, res_id: str) -> dict[str, Any] | None:
    with store.session(write=False) as session:
        found = session.read(res_type, res_id)
    return None if found is None or found.deleted else orjson.loads(found.content)


def own_organisation(ura: str, *endpoints: str) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Organization/_history"):
            return httpx.Response(200, json=bundle(organisation("org", f"Org {ura}", ura=ura, endpoints=endpoints)))
        return None
    return answer


def test_a_next_link_to_another_host_is_not_followed(store: Store) -> None:
    """The client must not fetch (with the directory's token) what the directory points it at elsewhere."""
    directories = Directories()
    evil = "http://evil.test/fhir"

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Organization/_history"):
            return httpx.Response(200, json=bundle(
                organisation("org", "Evil", ura=EVIL),
                link=[{"relation": "next", "url": "http://internal.test/admin/Organization/_history?page=2"}]))
        return None

    directories.list(EVIL, evil, answer)
    tokens: list[tuple[str, str]] = []
    result = client(store, directories, tokens=lambda source, types: tokens.append((source, "t")) or "t").run(ROOT)
    assert not any(url.startswith("http://internal.test") for url in directories.requests)
    report = report_of(result, evil)
    assert report.status == "failed" and "internal.test" in report.errors[0]
    assert report.since is None  # not advanced: the rest of that history was not read


def test_a_redirect_to_another_host_is_not_followed(store: Store) -> None:
    directories = Directories()
    evil = "http://evil.test/fhir"
    directories.list(EVIL, evil, lambda request: httpx.Response(
        302, headers={"Location": "http://internal.test/secret"}))
    result = client(store, directories).run(ROOT)
    assert not any(url.startswith("http://internal.test") for url in directories.requests)
    assert report_of(result, evil).status == "unreachable"


@pytest.mark.parametrize("clock", ["garbage", 12, "2025-13-45T99:00:00Z"])
def test_a_garbage_clock_fails_that_directory_only(store: Store, clock: Any) -> None:
    directories = Directories()
    bad, good = "http://bad.test/fhir", "http://good.test/fhir"

    def answer(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(200, json=bundle(last_updated=clock))

    directories.list(EVIL, bad, answer)
    directories.list(GOOD, good, own_organisation(GOOD))
    result = client(store, directories).run(ROOT)
    assert report_of(result, good).status == "ok" and report_of(result, good).created == 1
    assert report_of(result, bad).since is None  # its clock is not used


def test_since_is_not_advanced_past_a_type_whose_answer_has_no_clock(store: Store) -> None:
    """Organization answered without a clock, Endpoint later with one: since must not be the Endpoint's."""
    directories = Directories()
    directory = "http://dir.test/fhir"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Organization/_history"):
            return httpx.Response(200, json={"resourceType": "Bundle", "type": "history", "entry": []})
        return httpx.Response(200, json=bundle(last_updated="2025-06-01T00:00:00Z"))

    directories.list(GOOD, directory, answer)
    assert report_of(client(store, directories).run(ROOT), directory).since is None


def test_a_huge_answer_is_cut_off_and_reported(store: Store) -> None:
    directories = Directories()
    huge, good = "http://huge.test/fhir", "http://good.test/fhir"
    filler = organisation("org", "x" * 200_000, ura=EVIL)

    directories.list(EVIL, huge, lambda request: httpx.Response(200, json=bundle(filler)))
    directories.list(GOOD, good, own_organisation(GOOD))
    result = client(store, directories, max_bytes=100_000).run(ROOT)
    report = report_of(result, huge)
    assert report.status != "ok" and "100000 bytes" in report.errors[0]
    assert report_of(result, good).created == 1


def test_an_answer_that_trickles_is_given_up_at_the_deadline(store: Store) -> None:
    directories = Directories()
    slow = "http://slow.test/fhir"

    class Trickle(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"resourceType": "Bundle", "entry": ['
            while True:  # never ends: a byte at a time, each well within any read timeout
                time.sleep(0.05)
                yield b" "

    directories.list(EVIL, slow, lambda request: httpx.Response(200, stream=Trickle()))
    started = time.monotonic()
    result = client(store, directories, deadline_s=0.5).run(ROOT)
    assert time.monotonic() - started < 10
    report = report_of(result, slow)
    assert report.status != "ok" and "0.5 s" in report.errors[0]


def _colliding_addresses() -> tuple[str, str]:
    """Two directory addresses whose 8-hex-digit id prefixes are equal (a birthday search: ~2^16 tries)."""
    seen: dict[str, str] = {}
    for n in itertools.count():
        address = f"http://h{n}.test/fhir"
        prefix = hashlib.sha256(address.encode()).hexdigest()[:8]
        if prefix in seen:
            return seen[prefix], address
        seen[prefix] = address
    raise AssertionError


def test_a_directory_whose_address_collides_with_the_roots_prefix_cannot_rewrite_the_root(
        tmp_path: Path, model: Model) -> None:
    """An address chosen so that its copies would get the root's ids: it could replace another organisation's root
    entry (and so its directory and keys). Such a source is refused."""
    root_address, evil = _colliding_addresses()
    assert Source(root_address, "root").prefix == Source(evil, "administration").prefix
    directories = Directories()

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Endpoint/_history"):  # the same id as GOOD's root entry for its directory
            return httpx.Response(200, json=bundle(
                admin_directory_endpoint(f"ura-{GOOD}-dir", evil, EVIL) | {"managingOrganization": {
                    "reference": "Organization/org"}}))
        return own_organisation(EVIL, f"ura-{GOOD}-dir")(request)

    directories.list(GOOD, "http://good.test/fhir", own_organisation(GOOD))
    directories.list(EVIL, evil, answer)

    def route(request: httpx.Request) -> httpx.Response:  # the root answers at its colliding address
        url = str(request.url)
        if url.startswith(root_address + "/"):
            request = httpx.Request("GET", ROOT + url[len(root_address):])
        return directories(request)

    database = open_database(str(tmp_path / "q.db"))
    database.migrate()
    store = Store(database, model)
    update = UpdateClient(store, http=httpx.Client(transport=httpx.MockTransport(route)), attempts=1)
    try:
        first = update.run(root_address)
        assert evil not in {r.source for r in first.reports}
        assert any(evil in c["reason"] for c in first.listing_conflicts)
        root_prefix = Source(root_address, "root").prefix
        entry = live(store, "Endpoint", local_id(root_prefix, f"ura-{GOOD}-dir"))
        assert entry is not None and entry["address"] == "http://good.test/fhir"
        second = update.run(root_address)
        assert {r.source for r in second.reports} == {root_address, "http://good.test/fhir"}
    finally:
        database.close()


def test_the_trust_list_takes_keys_only_from_the_organisations_own_directory(store: Store) -> None:
    """An Organization of EVIL's directory that points (by an absolute reference) at GOOD's published Endpoints, and
    copies left by a directory that no longer is the one the root lists for a URA, give no endpoints."""
    directories = Directories()
    good, evil = "http://good.test/fhir", "http://evil.test/fhir"

    def good_answer(request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        if path.endswith("/Organization/_history"):
            return httpx.Response(200, json=bundle(organisation("org", "Good", ura=GOOD, endpoints=("fhir", "jwks"))))
        if path.endswith("/Endpoint/_history"):
            return httpx.Response(200, json=bundle(endpoint("fhir", good, "org"),
                                                   endpoint("jwks", f"{good}/jwks", "org", kind="jwks")))
        return None

    good_prefix = Source(good, "administration").prefix
    evil_organisation = organisation("org", "Evil", ura=EVIL)
    evil_organisation["endpoint"] = [{"reference": f"https://anywhere.test/fhir/Endpoint/{good_prefix}-{e}"}
                                     for e in ("fhir", "jwks")]

    def evil_answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Organization/_history"):
            return httpx.Response(200, json=bundle(evil_organisation))
        return None

    directories.list(GOOD, good, good_answer)
    directories.list(EVIL, evil, evil_answer)
    client(store, directories).run(ROOT)
    export = trust_list(store)
    assert [o["ura"] for o in export.document["organisations"]] == [GOOD]
    assert EVIL in export.left_out

    # GOOD moves to a new directory that publishes no keys yet; the old one's copies must not keep its keys.
    moved = "http://moved.test/fhir"
    directories.listing = [(GOOD, moved), (EVIL, evil)]
    directories.answers[moved] = own_organisation(GOOD)
    directories.listing.append(("55550005", good))  # the old directory is still listed, for someone else
    client(store, directories).run(ROOT)
    export = trust_list(store)
    assert GOOD not in [o["ura"] for o in export.document["organisations"]]


def test_endless_next_links_end_at_the_page_limit(store: Store) -> None:
    directories = Directories()
    endless = "http://endless.test/fhir"

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        return httpx.Response(200, json=bundle(link=[{"relation": "next",
                                                      "url": f"{endless}/Organization/_history?page={page + 1}"}]))

    directories.list(EVIL, endless, answer)
    report = report_of(client(store, directories, max_pages=20).run(ROOT), endless)
    assert report.status == "failed" and "more than 20 pages" in report.errors[0]
    assert sum(1 for url in directories.requests if url.startswith(endless)) == 20


def test_a_ura_by_its_oid_is_a_claim_too(store: Store) -> None:
    """The IG's invariants name the URA by its OID: an Organization carrying another's URA that way is refused."""
    directories = Directories()
    evil = "http://evil.test/fhir"
    smuggled = organisation("dept", "Good (nep)", part_of="org")
    smuggled["identifier"] = [{"system": "urn:oid:2.16.528.1.1007.3.3", "value": GOOD}]

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Organization/_history"):
            return httpx.Response(200, json=bundle(smuggled, organisation("org", "Evil", ura=EVIL)))
        return None

    directories.list(EVIL, evil, answer)
    report = report_of(client(store, directories).run(ROOT), evil)
    assert "Organization/dept" in {c["resource"] for c in report.conflicts}
    assert live(store, "Organization", local_id(Source(evil, "administration").prefix, "dept")) is None
