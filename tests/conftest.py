"""Fixtures shared by the whole suite: both storage engines on a fresh database, and the R4 model.

- ``database_url``: a fresh, empty database for this test, once on each engine (test ids
  ``[sqlite]`` and ``[postgres]``; select one with ``-k sqlite`` / ``-k postgres`` or
  ``-m sqlite`` / ``-m postgres``). SQLite: ``str(tmp_path / "node.db")``; PostgreSQL:
  ``postgresql://...`` of a database made for this test on the run's server and dropped after it.
- ``database``: ``open_database(database_url)``, migrated, closed after the test.
- ``model``: the R4 :class:`~samen.fhir.model.Model`, loaded once per session.
- ``postgres_server``: the run's :class:`pg_server.Server` (see ``tests/pg_server.py``); it fails,
  never skips, when PostgreSQL is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pg_server
import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.store.db import Database, open_database

PG_RUN = pytest.StashKey[Path]()
ENGINES = [
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite: the test runs on the SQLite engine (select with -m sqlite)")
    config.addinivalue_line("markers", "postgres: the test runs on the PostgreSQL engine (select with -m postgres)")
    if not hasattr(config, "workerinput"):  # the controlling process (or a run without xdist)
        config.stash[PG_RUN] = pg_server.begin_run()


def pytest_unconfigure(config: pytest.Config) -> None:
    if PG_RUN in config.stash:
        pg_server.end_run(config.stash[PG_RUN])


@pytest.fixture(scope="session")
def postgres_server() -> pg_server.Server:
    """The PostgreSQL server of this run, started on first use (or $SAMEN_TEST_POSTGRES_URL's)."""
    try:
        return pg_server.session_server()
    except pg_server.PostgresUnavailable as error:
        problem = str(error)
    pytest.fail(f"PostgreSQL test server unavailable: {problem}", pytrace=False)


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test, on each engine in turn."""
    if request.param == "sqlite":
        yield str(tmp_path / "node.db")
        return
    server: pg_server.Server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The ``database_url`` database, opened and migrated."""
    db = open_database(database_url)
    try:
        db.migrate()
        yield db
    finally:
        db.close()


@pytest.fixture(scope="session")
def model() -> Model:
    """The FHIR R4 model (run `samen definitions fetch` once before the tests; scripts/test.sh does)."""
    return Model.load()


@pytest.fixture(scope="session")
def conformance() -> Conformance:
    """The R4 core conformance resources (StructureDefinitions, ValueSets, CodeSystems), without packages."""
    return Conformance()


@pytest.fixture(scope="session")
def nictiz_dir() -> Path:
    """The Nictiz zib2020 package folder in ../shared, the acceptance set for validation and XML."""
    path = Path(__file__).resolve().parents[2] / "shared" / "fhir" / "nictiz-r4-zib2020"
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path
