"""Database engines behind one small interface: SQLite (embedded default) and PostgreSQL.

SQL is written once with ``?`` placeholders; the PostgreSQL engine rewrites them to ``%s``.
A :class:`Conn` is used by one thread at a time; :meth:`Database.connection` lends one from a pool.
Write transactions are serialised per resource by the engines' own locking (PostgreSQL row locks and
advisory locks; SQLite's single writer via ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import hashlib
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from samen.store.schema import MIGRATIONS, POSTGRES, SQLITE, Dialect, migration_statements

_PLACEHOLDER = re.compile(r"\?")


class Conn:
    """One connection; ``begin(write=True)`` starts a transaction that ``commit``/``rollback`` end."""

    dialect: Dialect

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def begin(self, write: bool) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def lock(self, key: str) -> None:
        """Hold an exclusive lock on ``key`` until the transaction ends (conditional create, ...)."""
        raise NotImplementedError


class Database:
    dialect: Dialect

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        raise NotImplementedError

    def migrate(self) -> None:
        """Bring the schema to the newest version; safe to call from several processes at once."""
        with self.connection() as conn:
            conn.begin(write=True)
            try:
                conn.lock("samen-migrate")
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                rows = conn.execute("SELECT max(version) FROM schema_version")
                current = rows[0][0] or 0
                for version, sql in MIGRATIONS:
                    if version <= current:
                        continue
                    for statement in migration_statements(self.dialect, sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise


# -- SQLite -------------------------------------------------------------------------------------


class SqliteConn(Conn):
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed transaction survives power loss too
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute("PRAGMA cache_size=-65536")

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, args).fetchall()

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def begin(self, write: bool) -> None:
        self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def lock(self, key: str) -> None:
        """SQLite has one writer at a time: a write transaction already excludes every other."""

    def close(self) -> None:
        self._db.close()


class SqliteDatabase(Database):
    dialect = SQLITE

    def __init__(self, path: str | Path, pool_size: int = 8) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._pool: queue.LifoQueue[SqliteConn] = queue.LifoQueue()
        self._all: list[SqliteConn] = []
        self._lock = threading.Lock()
        self._pool_size = pool_size

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = SqliteConn(self.path)
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            conn.rollback()
            self._pool.put(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


# -- PostgreSQL ---------------------------------------------------------------------------------


class PostgresConn(Conn):
    dialect = POSTGRES

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        cursor = self._raw.execute(_pg_sql(sql), args, prepare=None)
        return cursor.fetchall() if cursor.description is not None else []

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._raw.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), rows)

    def begin(self, write: bool) -> None:
        self._raw.execute("BEGIN")

    def commit(self) -> None:
        self._raw.execute("COMMIT")

    def rollback(self) -> None:
        self._raw.execute("ROLLBACK")

    def lock(self, key: str) -> None:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
        self._raw.execute("SELECT pg_advisory_xact_lock(%s)", (digest,))


_pg_cache: dict[str, str] = {}


def _pg_sql(sql: str) -> str:
    converted = _pg_cache.get(sql)
    if converted is None:
        converted = _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))
        if len(_pg_cache) < 4096:
            _pg_cache[sql] = converted
    return converted


class PostgresDatabase(Database):
    dialect = POSTGRES

    def __init__(self, url: str, pool_size: int = 16) -> None:
        import psycopg_pool

        self.url = url
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "prepare_threshold": 5},
            open=True,
        )

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        with self._pool.connection() as raw:
            conn = PostgresConn(raw)
            try:
                yield conn
            finally:
                if raw.info.transaction_status != 0:  # not idle: end what the caller left open
                    raw.execute("ROLLBACK")

    def close(self) -> None:
        self._pool.close()


def open_database(url: str) -> Database:
    """``postgresql://...`` for PostgreSQL; ``sqlite:///path`` or a plain path for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url.startswith("sqlite:"):
        parsed = urlparse(url)
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        return SqliteDatabase(path or ":memory:")
    return SqliteDatabase(url)
