"""Single-use grants in the node's database, on both engines: taken once, by kind, until they expire."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from samen.auth.grants import OneTimeGrants
from samen.store.db import Database


def test_a_grant_is_taken_once_and_only_as_its_kind(database: Database) -> None:
    grants = OneTimeGrants(database)
    handle = grants.put("code", {"bsn": "999990019", "patients": ["a"]}, 60)
    assert grants.take("launch", handle) is None
    assert grants.take("code", handle) == {"bsn": "999990019", "patients": ["a"]}
    assert grants.take("code", handle) is None
    assert grants.take("code", "") is None and grants.take("code", "made-up") is None


def test_a_grant_expires(database: Database) -> None:
    grants = OneTimeGrants(database)
    handle = grants.put("code", {"x": 1}, 0.2)
    time.sleep(0.3)
    assert grants.take("code", handle) is None


def test_racing_takes_win_once(database: Database) -> None:
    grants = OneTimeGrants(database)
    handle = grants.put("code", {"x": 1}, 60)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: grants.take("code", handle), range(8)))
    assert results.count({"x": 1}) == 1


def test_the_database_holds_no_usable_handle(database: Database) -> None:
    handle = OneTimeGrants(database).put("code", {"x": 1}, 60)
    with database.connection() as conn:
        stored = [row[0] for row in conn.execute("SELECT handle FROM auth_grant")]
    assert stored and handle not in stored
