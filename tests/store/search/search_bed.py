"""The search test bed: resources written straight into the tables with their index rows, searched
through the public API (``parse_search`` + ``run_search``) on both engines (the ``database`` fixture).

The storage layer is not used on purpose: these tests pin down search against the index-row
conventions of ``samen.store.rows`` as the indexer produces them, nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import orjson

from samen.fhir.model import Model
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.store.db import Conn
from samen.store.indexer import Indexer
from samen.store.rows import COLUMNS
from samen.store.schema import INDEX_TABLES
from samen.store.search import SearchQuery, SearchResult, parse_search, run_search

BASE = "http://node.example/fhir"

_INSERT = {
    table: f"INSERT INTO {table} (rid, res_type, {', '.join(cols)}) VALUES (?, ?{', ?' * len(cols)})"
    for table, cols in COLUMNS.items()
}


class Bed:
    """Writes resources (with index rows) and searches them."""

    def __init__(self, conn: Conn, model: Model) -> None:
        self.conn = conn
        self.model = model
        self.indexer = Indexer(model, BASE)
        self._ids = itertools.count(1)
        self._clock = itertools.count(now_ms() - 10_000_000, 1000)

    # -- writing ------------------------------------------------------------------------------

    def add(self, resource: dict[str, Any], updated_ms: int | None = None) -> str:
        """Store ``resource`` (its ``id``, or a new one) as version 1 with its index rows; returns the id."""
        return self.add_all([resource], updated_ms)[0]

    def add_all(self, resources: Sequence[dict[str, Any]], updated_ms: int | None = None) -> list[str]:
        ids = []
        self.conn.begin(write=True)
        try:
            for resource in resources:
                ids.append(self._insert(resource, updated_ms))
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return ids

    def _insert(self, resource: dict[str, Any], updated_ms: int | None) -> str:
        res_type = resource["resourceType"]
        res_id = resource.setdefault("id", f"{res_type[:3].lower()}{next(self._ids)}")
        updated = updated_ms if updated_ms is not None else next(self._clock)
        resource["meta"] = {**resource.get("meta", {}), "versionId": "1", "lastUpdated": ms_to_instant(updated)}
        rid = self.conn.execute(
            "INSERT INTO resource (res_type, res_id, version, updated_ms, deleted) VALUES (?, ?, 1, ?, 0) RETURNING rid",
            (res_type, res_id, updated),
        )[0][0]
        self.conn.execute(
            "INSERT INTO resource_version (rid, version, res_type, res_id, updated_ms, method, content) "
            "VALUES (?, 1, ?, ?, ?, 'POST', ?)",
            (rid, res_type, res_id, updated, orjson.dumps(resource)),
        )
        for table, rows in self.indexer.index(resource).by_table().items():
            if rows:
                self.conn.execute_many(_INSERT[table], [(rid, res_type, *row) for row in rows])
        return res_id

    def delete(self, res_type: str, res_id: str) -> None:
        """Delete as the store does: a new version without content, the index rows removed."""
        self.conn.begin(write=True)
        rid, version = self.conn.execute(
            "SELECT rid, version FROM resource WHERE res_type = ? AND res_id = ?", (res_type, res_id)
        )[0]
        self.conn.execute("UPDATE resource SET version = ?, deleted = 1 WHERE rid = ?", (version + 1, rid))
        self.conn.execute(
            "INSERT INTO resource_version (rid, version, res_type, res_id, updated_ms, method, content) "
            "VALUES (?, ?, ?, ?, ?, 'DELETE', NULL)",
            (rid, version + 1, res_type, res_id, now_ms()),
        )
        for table in INDEX_TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))
        self.conn.commit()

    # -- searching ----------------------------------------------------------------------------

    def query(self, res_type: str | None, params: Sequence[tuple[str, str]] | str = (), **options: Any) -> SearchQuery:
        return parse_search(self.model, res_type, _pairs(params), base_url=BASE, **options)

    def search(self, res_type: str | None, params: Sequence[tuple[str, str]] | str = (), **options: Any) -> SearchResult:
        return self.run(self.query(res_type, params, **options))

    def run(self, query: SearchQuery) -> SearchResult:
        self.conn.begin(write=False)
        try:
            return run_search(self.conn, self.model, query)
        finally:
            self.conn.rollback()

    def ids(self, res_type: str | None, params: Sequence[tuple[str, str]] | str = (), **options: Any) -> set[str]:
        """The ids of every match (one page of up to 1000)."""
        pairs = [*_pairs(params), ("_count", "1000")]
        result = self.search(res_type, pairs, **options)
        assert not result.has_more
        found = [row.res_id for row in result.matches]
        assert len(found) == len(set(found)), f"duplicate matches: {found}"
        return set(found)

    def ordered(self, res_type: str | None, params: Sequence[tuple[str, str]] | str = (), **options: Any) -> list[str]:
        pairs = [*_pairs(params), ("_count", "1000")]
        return [row.res_id for row in self.search(res_type, pairs, **options).matches]


def _pairs(params: Sequence[tuple[str, str]] | str) -> list[tuple[str, str]]:
    """``"a=1&b=2"`` or pairs; the string form is split on & and the first = only (no URL decoding)."""
    if isinstance(params, str):
        return [tuple(p.split("=", 1)) for p in params.split("&") if p]  # type: ignore[misc]
    return list(params)


# -- resources ----------------------------------------------------------------------------------

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def patient(res_id: str | None = None, family: str = "Jansen", given: Sequence[str] = ("Anna",), **extra: Any) -> dict:
    resource: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family, "given": list(given)}], **extra}
    if res_id:
        resource["id"] = res_id
    return resource


def observation(
    subject: str | None, code: str = "8867-4", value: float | None = 72, when: str | None = "2024-05-01", **extra: Any
) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        **extra,
    }
    if subject:
        resource["subject"] = {"reference": subject}
    if when:
        resource["effectiveDateTime"] = when
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": "/min", "system": UCUM, "code": "/min"}
    return resource


def add_world(bed: Bed) -> None:
    """Organisations, a practitioner, patients, a group, observations, an encounter, a provenance, a list."""
    bed.add_all(
        [
            {"resourceType": "Organization", "id": "org1", "name": "Ziekenhuis Oost"},
            {"resourceType": "Organization", "id": "org2", "name": "Huisartsenpraktijk West",
             "partOf": {"reference": "Organization/org1"}},
            {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Bakker"}]},
            patient("pa", family="Sánchez", managingOrganization={"reference": "Organization/org2"},
                    generalPractitioner=[{"reference": "Practitioner/dr1"}]),
            patient("pb", family="Jansen", managingOrganization={"reference": "Organization/org1"}),
            patient("pc", family="Jansen",
                    generalPractitioner=[{"identifier": {"system": "urn:agb", "value": "123"}}]),
            {"resourceType": "Group", "id": "g1", "type": "person", "actual": True, "name": "Jansen group"},
            observation("Patient/pa", id="o1"),
            observation("Patient/pb", code="1234-5", id="o2"),
            observation(f"{BASE}/Patient/pa", code="1234-5", id="o3"),
            observation("http://other.org/fhir/Patient/zz", id="o4"),
            observation("Group/g1", id="o5"),
            observation("Patient/pc", id="o6", performer=[{"reference": "Patient/pb"}]),
            observation(None, id="o7"),
            {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
             "subject": {"reference": "Patient/pa"}},
            {"resourceType": "Provenance", "id": "prov1", "recorded": "2024-01-01T00:00:00Z",
             "target": [{"reference": "Observation/o1"}],
             "agent": [{"who": {"reference": "Practitioner/dr1"}}]},
            {"resourceType": "List", "id": "l1", "status": "current", "mode": "working",
             "entry": [{"item": {"reference": "Patient/pa"}}, {"item": {"reference": "Patient/pc"}},
                       {"item": {"reference": "Observation/o2"}}]},
        ]
    )
