"""``Session.put_many``: many creates and updates at once, with the invariants of ``Session.update``."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import orjson
import pytest

from samen.fhir.model import Model
from samen.fhir.primitives import ms_to_instant
from samen.store.batch import BatchError
from samen.store.db import Database
from samen.store.schema import INDEX_TABLES
from samen.store.search import parse_search
from samen.store.store import Store


@pytest.fixture
def store(database: Database, model: Model) -> Store:
    return Store(database, model)


def patient(res_id: str | None, family: str, **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Patient", "name": [{"family": family}], **extra}
    if res_id is not None:
        resource["id"] = res_id
    return resource


def found(store: Store, res_type: str, *params: tuple[str, str]) -> set[str]:
    """The ids that a search finds."""
    with store.session(write=False) as session:
        result = session.search(parse_search(store.model, res_type, [*params, ("_count", "1000")]))
    return {row.res_id for row in result.matches}


def history(store: Store, res_type: str, res_id: str) -> list[tuple[int, str, int]]:
    """(version, method, updated_ms) of every version, oldest first."""
    with store.session(write=False) as session:
        page = session.history(res_type, res_id, count=100)
    return sorted((entry.version, entry.method, entry.updated_ms) for entry in page.entries)


def index_rows(store: Store, res_type: str, res_id: str) -> dict[str, list[tuple]]:
    """The index rows of a resource, without rid, per table (floats rounded to 9 places)."""
    with store.session(write=False) as session:
        conn = session.conn
        (rid,) = conn.execute("SELECT rid FROM resource WHERE res_type = ? AND res_id = ?", (res_type, res_id))[0]
        tables = {table: conn.execute(f"SELECT * FROM {table} WHERE rid = ?", (rid,)) for table in INDEX_TABLES}
    return {
        table: sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row[1:]) for row in rows)
        for table, rows in tables.items()
        if rows
    }


def test_creates_and_updates_in_one_batch(store: Store) -> None:
    with store.session() as session:
        first = session.create(patient(None, "Oud"), "p1")
    with store.session() as session:
        stored = session.put_many([patient("p1", "Nieuw"), patient("p2", "Anders")])
    assert [(s.res_id, s.version, s.method, s.deleted) for s in stored] == [
        ("p1", 2, "PUT", False),
        ("p2", 1, "POST", False),
    ]
    assert stored[0].updated_ms > first.updated_ms
    with store.session(write=False) as session:
        for s in stored:
            current = session.read("Patient", s.res_id)
            assert current is not None and current.content == s.content and current.version == s.version
            meta = current.json()["meta"]
            assert meta == {"versionId": str(s.version), "lastUpdated": ms_to_instant(s.updated_ms)}
    assert history(store, "Patient", "p1") == [(1, "POST", first.updated_ms), (2, "PUT", stored[0].updated_ms)]
    assert history(store, "Patient", "p2") == [(1, "POST", stored[1].updated_ms)]


def test_index_rows_are_those_of_the_new_version_only(store: Store) -> None:
    with store.session() as session:
        session.put_many([patient("p1", "Oud", gender="male"), patient("p2", "Oud")])
    with store.session() as session:
        session.put_many([patient("p1", "Nieuw", gender="female")])
    assert found(store, "Patient", ("family", "Nieuw")) == {"p1"}
    assert found(store, "Patient", ("family", "Oud")) == {"p2"}
    assert found(store, "Patient", ("gender", "male")) == set()
    assert found(store, "Patient", ("gender", "female")) == {"p1"}


RISK = {  # an open probability range: an infinite upper end in idx_number
    "resourceType": "RiskAssessment",
    "status": "final",
    "subject": {"reference": "Patient/p1"},
    "prediction": [{"probabilityRange": {"low": {"value": 0.25}}}, {"probabilityDecimal": 0.5}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "meta": {"profile": ["http://example.org/StructureDefinition/hr"]},
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Hartslag"},
    "effectivePeriod": {"start": "2024-02-29T10:00:00+01:00"},
    "valueQuantity": {"value": 72.5, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    "derivedFrom": [{"reference": "Observation/o0"}, {"reference": "http://example.org/fhir/Observation/o1"}],
}


@pytest.mark.parametrize("resource", [RISK, OBSERVATION], ids=["open-range", "observation"])
def test_index_rows_and_content_are_those_of_update(store: Store, resource: dict[str, Any]) -> None:
    res_type = resource["resourceType"]
    with store.session() as session:
        single, _ = session.update(orjson.loads(orjson.dumps(resource)), "single")
        (batched,) = session.put_many([orjson.loads(orjson.dumps(resource)) | {"id": "batched"}])
    assert index_rows(store, res_type, "batched") == index_rows(store, res_type, "single")
    assert without_id_and_time(batched.content) == without_id_and_time(single.content)
    with store.session(write=False) as session:
        assert session.read(res_type, "batched").content == batched.content  # type: ignore[union-attr]
    if resource is RISK:
        numbers = index_rows(store, res_type, "batched")["idx_number"]
        assert ("RiskAssessment", "probability", 0, 0.245, math.inf) in numbers


def without_id_and_time(content: bytes | None) -> dict[str, Any]:
    resource = orjson.loads(content or b"{}")
    del resource["id"], resource["meta"]["lastUpdated"]
    return resource


def test_a_deleted_resource_is_revived(store: Store) -> None:
    with store.session() as session:
        session.create(patient(None, "Weg"), "p1")
        deleted = session.delete("Patient", "p1")
    assert deleted is not None and found(store, "Patient", ("family", "Weg")) == set()
    with store.session() as session:
        (stored,) = session.put_many([patient("p1", "Terug")])
    assert (stored.version, stored.method, stored.deleted) == (3, "PUT", False)
    assert stored.updated_ms > deleted.updated_ms
    assert found(store, "Patient", ("family", "Terug")) == {"p1"}
    with store.session(write=False) as session:
        current = session.read("Patient", "p1")
    assert current is not None and not current.deleted and current.json()["name"] == [{"family": "Terug"}]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_the_same_id_twice_in_one_batch(store: Store, existing: bool) -> None:
    if existing:
        with store.session() as session:
            session.create(patient(None, "Eerder"), "p1")
    with store.session() as session:
        stored = session.put_many([patient("p1", "Een"), patient("p2", "Ander"), patient("p1", "Twee")])
    base = 1 if existing else 0
    assert [(s.res_id, s.version) for s in stored] == [("p1", base + 1), ("p2", 1), ("p1", base + 2)]
    assert stored[2].updated_ms > stored[0].updated_ms
    versions = history(store, "Patient", "p1")
    assert [(v, m) for v, m, _ in versions][-2:] == [(base + 1, "PUT" if existing else "POST"), (base + 2, "PUT")]
    assert [t for _, _, t in versions] == sorted({t for _, _, t in versions})  # strictly increasing
    assert found(store, "Patient", ("family", "Twee")) == {"p1"}
    assert found(store, "Patient", ("family", "Een")) == set()
    strings = index_rows(store, "Patient", "p1")["idx_string"]
    assert len(strings) == len(index_rows(store, "Patient", "p2")["idx_string"])  # one version's rows only
    with store.session(write=False) as session:
        assert session.read("Patient", "p1").version == base + 2  # type: ignore[union-attr]


def test_a_resource_without_id_gets_a_new_one(store: Store) -> None:
    resource = patient(None, "Zonder")
    with store.session() as session:
        (stored,) = session.put_many([resource])
    assert stored.res_id and resource["id"] == stored.res_id and stored.version == 1
    assert found(store, "Patient", ("family", "Zonder")) == {stored.res_id}


@pytest.mark.parametrize(
    "bad",
    [
        {"resourceType": "Patient", "id": "bad", "extension": {1, 2}},  # not JSON
        {"id": "bad"},  # no resourceType
    ],
    ids=["not-json", "no-type"],
)
def test_a_failure_names_its_position_and_writes_nothing(store: Store, bad: dict[str, Any]) -> None:
    with store.session() as session:
        session.create(patient(None, "Bestaand"), "p1")
    with store.session() as session:  # the transaction goes on and commits after the error
        with pytest.raises(BatchError) as raised:
            session.put_many([patient("p1", "Gewijzigd"), patient("p2", "Nieuw"), bad, patient("p3", "Later")])
        assert raised.value.index == 2
    with store.session(write=False) as session:
        assert session.read("Patient", "p1").version == 1  # type: ignore[union-attr]
        assert session.read("Patient", "p2") is None and session.read("Patient", "p3") is None
        assert session.conn.execute("SELECT count(*) FROM resource_version") == [(1,)]
        assert session.conn.execute("SELECT count(*) FROM resource") == [(1,)]
    assert found(store, "Patient", ("family", "Bestaand")) == {"p1"}
    assert found(store, "Patient", ("family", "Gewijzigd")) == found(store, "Patient", ("family", "Nieuw")) == set()


def test_batches_larger_than_one_statement(store: Store) -> None:
    """More ids and rows than SQLite takes placeholders in one statement."""
    count = 1500
    with store.session() as session:
        session.put_many([patient(f"p{i}", f"Oud{i % 7}") for i in range(count)])
    with store.session() as session:
        stored = session.put_many([patient(f"p{i}", f"Nieuw{i % 7}") for i in range(count)])
    assert {s.version for s in stored} == {2}
    assert len(found(store, "Patient", ("family", "Nieuw3"))) == len(range(3, count, 7))
    assert found(store, "Patient", ("family", "Oud3")) == set()
    with store.session(write=False) as session:
        assert session.conn.execute("SELECT count(*), min(version) FROM resource") == [(count, 2)]


def test_a_resource_created_concurrently_becomes_an_update(store: Store, database: Database) -> None:
    """A create committed by another transaction after the head lookup: the batch writes a new version on top."""
    if database.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: no other create can come between")
    with database.connection() as other:
        other.begin(write=True)
        other.execute(
            "INSERT INTO resource (res_type, res_id, version, updated_ms, deleted) VALUES ('Patient', 'p1', 1, 1, 0)"
        )
        other.execute(
            "INSERT INTO resource_version (rid, version, res_type, res_id, updated_ms, method, content) "
            "SELECT rid, 1, 'Patient', 'p1', 1, 'POST', ? FROM resource WHERE res_id = 'p1'",
            (orjson.dumps(patient("p1", "Ander")),),
        )
        results: list[Any] = []

        def put() -> None:
            with store.session() as session:  # waits for the other transaction in its insert
                results.append(session.put_many([patient("p0", "Nieuw"), patient("p1", "Mijn")]))

        worker = threading.Thread(target=put)
        worker.start()
        time.sleep(0.5)
        other.commit()
        worker.join(30)
    assert [(s.res_id, s.version, s.method) for s in results[0]] == [("p0", 1, "POST"), ("p1", 2, "PUT")]
    assert found(store, "Patient", ("family", "Mijn")) == {"p1"}
    assert history(store, "Patient", "p1")[0][:2] == (1, "POST")

