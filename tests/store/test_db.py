"""Engine behaviour the store relies on."""

from __future__ import annotations

import pytest

from samen.fhir.model import Model
from samen.store.db import Database
from samen.store.store import Store


def test_sqlite_refuses_a_nested_write_session_in_one_thread(database: Database, model: Model) -> None:
    if database.dialect.name != "sqlite":
        pytest.skip("PostgreSQL writers use row locks, not one process-wide writer lock")
    store = Store(database, model)
    with store.session(write=True):
        with pytest.raises(RuntimeError, match="second write session"):
            with store.session(write=True):
                pass
    with store.session(write=True) as session:  # the lock was released
        assert session.create({"resourceType": "Patient"}).version == 1


def test_postgres_reads_hold_no_transaction(database: Database, model: Model) -> None:
    """Under READ COMMITTED a read transaction adds round trips, no consistency: reads run in autocommit."""
    if database.dialect.name != "postgres":
        pytest.skip("SQLite reads take a snapshot per session on purpose (deferred BEGIN, no round trip)")
    store = Store(database, model)
    with store.session(write=False) as session:
        session.read("Patient", "x")
        assert session.conn.execute("SELECT now() = statement_timestamp()")[0][0] is True
    with store.session(write=True) as session:
        session.read("Patient", "x")
        assert session.conn.execute("SELECT now() = statement_timestamp()")[0][0] is False


def test_stored_json_comes_back_as_bytes_on_both_engines(database: Database, model: Model) -> None:
    """The store serves stored JSON as it is; both drivers must hand BLOB/bytea back as ``bytes``."""
    store = Store(database, model)
    with store.session(write=True) as session:
        created = session.create({"resourceType": "Patient", "gender": "male"})
    with store.session(write=False) as session:
        stored = session.read("Patient", created.res_id)
    assert stored is not None and type(stored.content) is bytes
    assert stored.json()["gender"] == "male"
