"""Grants that serve several requests (looked at without taking) and that are revoked all at once by kind."""

from __future__ import annotations

from samen.auth.grants import OneTimeGrants
from samen.store.db import Database


def test_a_peeked_grant_stays_until_taken_and_only_as_its_kind(database: Database) -> None:
    grants = OneTimeGrants(database)
    handle = grants.put("session", {"ura": "12345678"}, 60)
    assert grants.peek("session", handle) == {"ura": "12345678"}
    assert grants.peek("session", handle) == {"ura": "12345678"}  # still there
    assert grants.peek("code", handle) is None
    assert grants.peek("session", "") is None and grants.peek("session", "made-up") is None
    assert grants.take("session", handle) == {"ura": "12345678"}
    assert grants.peek("session", handle) is None


def test_a_peeked_grant_expires_and_an_expired_one_does_not_count_as_revoked(database: Database) -> None:
    now = [1_000_000.0]
    grants = OneTimeGrants(database, clock=lambda: now[0])
    handle = grants.put("session", {"x": 1}, 60)
    grants.put("session", {"x": 2}, 600)
    now[0] += 61
    assert grants.peek("session", handle) is None
    assert grants.take_all("session") == 1


def test_taking_all_of_a_kind_leaves_the_other_kinds(database: Database) -> None:
    grants = OneTimeGrants(database)
    sessions = [grants.put("session", {"n": n}, 60) for n in range(3)]
    code = grants.put("code", {"x": 1}, 60)
    assert grants.take_all("session") == 3
    assert all(grants.peek("session", handle) is None for handle in sessions)
    assert grants.take_all("session") == 0
    assert grants.take("code", code) == {"x": 1}
