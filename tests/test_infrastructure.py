"""The test fixtures themselves: two engines, each test on its own fresh database, a real PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pg_server
import pytest

from samen.fhir.model import Model
from samen.store.db import Database, open_database
from samen.store.schema import MIGRATIONS


def user_tables(db: Database) -> set[str]:
    with db.connection() as conn:
        if db.dialect.name == "sqlite":
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        else:
            rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    return {name for (name,) in rows}


def test_database_url_is_an_empty_database_of_its_engine(request: pytest.FixtureRequest, database_url: str,
                                                         tmp_path: Path) -> None:
    engine = request.node.callspec.params["database_url"]
    assert request.node.get_closest_marker(engine) is not None  # so `-m sqlite` / `-m postgres` select it
    if engine == "sqlite":
        assert database_url == str(tmp_path / "node.db")
    else:
        assert database_url.startswith("postgresql://")
    db = open_database(database_url)
    try:
        assert db.dialect.name == engine
        assert user_tables(db) == set()
    finally:
        db.close()


def test_database_is_migrated_and_empty(database: Database) -> None:
    assert {"resource", "resource_version", "idx_token", "schema_version"} <= user_tables(database)
    with database.connection() as conn:
        assert conn.execute("SELECT max(version) FROM schema_version") == [(MIGRATIONS[-1][0],)]
        assert conn.execute("SELECT count(*) FROM resource") == [(0,)]
        assert conn.execute("SELECT count(*) FROM resource_version") == [(0,)]


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_each_test_has_its_own_database(database: Database, attempt: int) -> None:
    """Three tests write the same row: each must find its database empty, whatever ran before."""
    with database.connection() as conn:
        assert conn.execute("SELECT count(*) FROM resource") == [(0,)]
        conn.begin(write=True)
        conn.execute(
            "INSERT INTO resource (res_type, res_id, version, updated_ms) VALUES (?, ?, ?, ?)",
            ("Patient", "shared-id", attempt, 0),
        )
        conn.commit()
        assert conn.execute("SELECT res_id, version FROM resource") == [("shared-id", attempt)]


def test_engine_is_the_real_one(database: Database) -> None:
    with database.connection() as conn:
        if database.dialect.name == "postgres":
            (version,) = conn.execute("SELECT version()")[0]
            assert version.startswith("PostgreSQL ")
        else:
            (version,) = conn.execute("SELECT sqlite_version()")[0]
            assert version.count(".") == 2


def test_postgres_databases_are_created_and_dropped(postgres_server: pg_server.Server) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    names = {url.rsplit("/", 1)[1] for url in (first, second)}
    admin = open_database(postgres_server.url)
    try:
        with admin.connection() as conn:
            assert names <= {name for (name,) in conn.execute("SELECT datname FROM pg_database")}
            postgres_server.drop_database(first)
            postgres_server.drop_database(second)
            assert not names & {name for (name,) in conn.execute("SELECT datname FROM pg_database")}
    finally:
        admin.close()


def test_postgres_server_is_a_fast_throwaway_on_loopback_as_non_root(postgres_server: pg_server.Server) -> None:
    if postgres_server.run is None:
        pytest.skip(f"${pg_server.URL_ENV} names an external server: nothing of it to check here")
    pid = postgres_server.postmaster_pid()
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert "0" not in uids, "the PostgreSQL server runs as root"
    if os.geteuid() == 0:
        assert postgres_server.user in ("postgres", pg_server.TEST_USER)
    db = open_database(postgres_server.url)
    try:
        with db.connection() as conn:
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'listen_addresses', 'data_directory')"
            ))
    finally:
        db.close()
    assert settings == {"fsync": "off", "listen_addresses": "127.0.0.1", "data_directory": str(postgres_server.data_dir)}
    assert postgres_server.run and Path(postgres_server.run).name.startswith(pg_server.RUN_PREFIX)


def test_model_is_loaded_once(model: Model, request: pytest.FixtureRequest) -> None:
    assert model.fhir_version == "4.0.1"
    assert "Patient" in model.resource_types
    assert request.getfixturevalue("model") is model
