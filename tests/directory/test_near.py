"""``Location?near=lat|lon|distance|unit``: positions within a great-circle distance, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from samen.fhir.model import Model
from samen.store.db import open_database
from samen.store.search import SearchError, parse_search
from samen.store.store import Store

# (id, latitude, longitude): distances from Utrecht Centraal (52.0894, 5.1101) by great circle
PLACES = [
    ("utrecht", 52.0894, 5.1101),  # 0 km
    ("zeist", 52.0894, 5.2330),  # ~8.4 km east
    ("amersfoort", 52.1561, 5.3878),  # ~20.4 km
    ("amsterdam", 52.3791, 4.9003),  # ~35.0 km
    ("groningen", 53.2107, 6.5646),  # ~158 km
]


@pytest.fixture
def store(database_url: str, model: Model) -> Iterator[Store]:
    database = open_database(database_url)
    database.migrate()
    store = Store(database, model)
    with store.session() as session:
        session.put_many([
            {"resourceType": "Location", "id": name, "name": name, "position": {"latitude": lat, "longitude": lon}}
            for name, lat, lon in PLACES
        ] + [{"resourceType": "Location", "id": "nowhere", "name": "no position"}])
    yield store
    database.close()


def _near(store: Store, model: Model, value: str, **extra: str) -> list[str]:
    query = parse_search(model, "Location", [("near", value), ("_sort", "_id"), *extra.items()], strict=True)
    with store.session(write=False) as session:
        return [row.res_id for row in session.search(query).matches]


def test_near_finds_positions_within_the_distance(store: Store, model: Model) -> None:
    assert _near(store, model, "52.0894|5.1101|10|km") == ["utrecht", "zeist"]
    assert _near(store, model, "52.0894|5.1101|25") == ["amersfoort", "utrecht", "zeist"]  # km by default
    assert _near(store, model, "52.0894|5.1101|36|km") == ["amersfoort", "amsterdam", "utrecht", "zeist"]
    assert _near(store, model, "52.0894|5.1101|8000|m") == ["utrecht"]
    assert _near(store, model, "52.0894|5.1101|200|[mi_i]") == ["amersfoort", "amsterdam", "groningen", "utrecht",
                                                               "zeist"]


def test_the_great_circle_decides_at_the_edge_of_the_box(store: Store, model: Model) -> None:
    # Amsterdam is ~35.0 km away: inside a 35.5 km circle, outside 34.5 (both inside the bounding box)
    assert "amsterdam" in _near(store, model, "52.0894|5.1101|35.5")
    assert "amsterdam" not in _near(store, model, "52.0894|5.1101|34.5")


def test_near_without_a_distance_uses_the_default(store: Store, model: Model) -> None:
    assert _near(store, model, "52.0894|5.1101") == ["utrecht", "zeist"]  # 10 km


def test_near_combines_with_other_parameters(store: Store, model: Model) -> None:
    assert _near(store, model, "52.0894|5.1101|25", name="zeist") == ["zeist"]


def test_near_in_the_http_api_is_a_location_parameter(model: Model) -> None:
    with pytest.raises(SearchError):
        parse_search(model, "Organization", [("near", "52|5|10")], strict=True)


@pytest.mark.parametrize("value", ["52|5|10|lightyear", "abc|5|10", "95|5|10", "52|5|-1", "52", "52|5|10|km|x"])
def test_a_malformed_near_is_refused(model: Model, value: str) -> None:
    with pytest.raises(SearchError):
        parse_search(model, "Location", [("near", value)], strict=True)
