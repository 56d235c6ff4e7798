"""Database engines behind one small interface: SQLite (embedded default) and PostgreSQL.

SQL is written once with ``?`` placeholders; the PostgreSQL engine rewrites them to ``%s``.
A :class:`Conn` is used by one thread at a time; :meth:`Database.connection` lends one from a pool.
Write transactions are serialised per resource by the engines' own locking (PostgreSQL row locks and
advisory locks; SQLite's single writer via ``BEGIN IMMEDIATE``).

Both engines hand BLOB/bytea columns back as ``bytes``, so stored JSON goes to clients untouched.

Statements over many rows or values (:meth:`Conn.insert_many`, :meth:`Conn.insert_new`,
:meth:`Conn.execute_in`) take the fastest form of each engine here, so that callers stay free of
engine-specific SQL.
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
IN = "{in}"  # in SQL for execute_in: "is one of the values"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open


class Conn:
    """One connection; ``begin(write=True)`` starts a transaction that ``commit``/``rollback`` end."""

    dialect: Dialect

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (values in the order of ``columns``) into ``table``."""
        raise NotImplementedError

    def insert_new(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        key: Sequence[str],
        returning: Sequence[str],
    ) -> list[tuple]:
        """Insert the rows whose ``key`` is not taken (the others are skipped); ``returning`` of those inserted."""
        raise NotImplementedError

    def delete_in(self, tables: Sequence[str], column: str, values: Sequence[Any]) -> None:
        """Delete the rows whose ``column`` is one of ``values`` from every table in ``tables``."""
        for table in tables:
            self.execute_in(f"DELETE FROM {table} WHERE {column} {IN}", (), values)

    def execute_in(self, sql: str, args: Sequence[Any], values: Sequence[Any]) -> list[tuple]:
        """Run ``sql`` where :data:`IN` (``"{in}"``) stands for "is one of ``values``"; all rows it returns.

        ``args`` fill the ``?`` placeholders, which must all come before :data:`IN`. Nothing runs
        when ``values`` is empty.
        """
        raise NotImplementedError

    def refresh_statistics(self) -> None:
        """After a bulk load: let the query planner learn the new data at once."""
        raise NotImplementedError

    def begin(self, write: bool) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def plan_each_statement(self) -> None:
        """From now on in this session, plan every statement for its actual values.

        For search: a cached generic plan cannot see how selective ``code = $1`` or a name prefix is.
        """

    def lock(self, key: str) -> None:
        """Hold an exclusive lock on ``key`` until the transaction ends (conditional create, ...)."""
        raise NotImplementedError


class Database:
    dialect: Dialect

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[Conn]:
        """Lend a connection; ``write`` says the caller will begin a write transaction on it."""
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        raise NotImplementedError

    def migrate(self) -> None:
        """Bring the schema to the newest version; safe to call from several processes at once."""
        with self.connection(write=True) as conn:
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

_SQLITE_VARIABLES = 999  # placeholders per statement that every SQLite build accepts


class _WriteLock:
    """The lock SQLite writers of one process queue on; refuses a nested write session in one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise RuntimeError("a second write session in the same thread would wait for itself forever")
        self._lock.acquire()
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        self._lock.release()


class SqliteConn(Conn):
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed transaction survives power loss too
        self._db.execute("PRAGMA foreign_keys=OFF")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute("PRAGMA cache_size=-8192")  # 8 MiB private cache per connection ...
        self._db.execute("PRAGMA mmap_size=1073741824")  # ... the file itself is shared through the OS page cache

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, args).fetchall()

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``executemany``: SQLite runs in-process, so a statement per row costs little."""
        marks = ", ".join("?" * len(columns))
        self._db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def insert_new(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        key: Sequence[str],
        returning: Sequence[str],
    ) -> list[tuple]:
        """Multi-row VALUES (``executemany`` cannot return rows), in chunks within the placeholder limit."""
        found: list[tuple] = []
        row_marks = f"({', '.join('?' * len(columns))})"
        for chunk in _chunks(rows, max(1, _SQLITE_VARIABLES // len(columns))):
            found += self.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_marks] * len(chunk))} "
                f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {', '.join(returning)}",
                [value for row in chunk for value in row],
            )
        return found

    def execute_in(self, sql: str, args: Sequence[Any], values: Sequence[Any]) -> list[tuple]:
        """``IN (?, ...)`` lists within the placeholder limit: one statement per list."""
        found: list[tuple] = []
        for chunk in _chunks(values, max(1, _SQLITE_VARIABLES - len(args))):
            found += self.execute(sql.replace(IN, f"IN ({', '.join('?' * len(chunk))})"), [*args, *chunk])
        return found

    def refresh_statistics(self) -> None:
        """Nothing: SQLite plans well without statistics, and ANALYZE would read every index."""

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
        self._write_lock = _WriteLock()
        self._slots = threading.BoundedSemaphore(pool_size)  # at most pool_size connections, each with its cache

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[Conn]:
        """Writers of this process queue on a lock before they take a connection, so that queued
        writers neither sleep in SQLite's busy handler nor hold connections that readers need."""
        if write:
            self._write_lock.acquire()
        try:
            with self._slots:
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
        finally:
            if write:
                self._write_lock.release()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


# -- PostgreSQL ---------------------------------------------------------------------------------


class PostgresConn(Conn):
    dialect = POSTGRES

    def __init__(self, raw: Any, column_types: dict[str, dict[str, str]]) -> None:
        self._raw = raw
        self._column_types = column_types  # table -> column -> SQL type, shared by the database's connections
        self._prepare: bool | None = None  # None: psycopg prepares statements it sees often

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        cursor = self._raw.execute(_pg_sql(sql), args, prepare=self._prepare)
        return cursor.fetchall() if cursor.description is not None else []

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._raw.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), rows)

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """COPY: several times faster than INSERT from about three rows on; one row is a plain INSERT.

        Binary COPY when every column is bigint, text or bytea: it spares encoding each value as
        text on this side (bytea as hex: most of the cost of an audit entry's row) and parsing it on
        the server's, about 8 µs per row of 1 KB.
        """
        names = ", ".join(columns)
        if len(rows) <= 1:
            for row in rows:
                self.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", row)
            return
        types = self._types(table)
        binary_types = [_BINARY_COPY_TYPES.get(types[column]) for column in columns]
        binary = all(binary_types)
        with (self._raw.cursor() as cursor,
              cursor.copy(f"COPY {table} ({names}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")) as copy):
            if binary:
                copy.set_types(binary_types)
            for row in rows:
                copy.write_row(row)

    def insert_new(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        key: Sequence[str],
        returning: Sequence[str],
    ) -> list[tuple]:
        """One statement over one array per column (``unnest``), typed as the table's columns."""
        if not rows:
            return []
        types = self._types(table)
        arrays = ", ".join(f"?::{types[column]}[]" for column in columns)
        return self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {', '.join(returning)}",
            [list(column) for column in zip(*rows)],
        )

    def delete_in(self, tables: Sequence[str], column: str, values: Sequence[Any]) -> None:
        """One statement of data-modifying CTEs: one round trip instead of one per table."""
        if not values:
            return
        deletes = ", ".join(f"d{i} AS (DELETE FROM {t} WHERE {column} = ANY(?))" for i, t in enumerate(tables))
        self.execute(f"WITH {deletes} SELECT 1", [list(values)] * len(tables))

    def execute_in(self, sql: str, args: Sequence[Any], values: Sequence[Any]) -> list[tuple]:
        """``= ANY(array)``: one statement and one plan for any number of values; ``= ?`` for one (faster)."""
        if len(values) == 1:
            return self.execute(sql.replace(IN, "= ?"), [*args, values[0]])
        if not values:
            return []
        return self.execute(sql.replace(IN, "= ANY(?)"), [*args, list(values)])

    def refresh_statistics(self) -> None:
        """ANALYZE: until autovacuum catches up, plans made for an empty database can be very slow."""
        self._raw.execute("ANALYZE")

    def _types(self, table: str) -> dict[str, str]:
        """The SQL types of ``table``'s columns, read from the catalog once per database."""
        types = self._column_types.get(table)
        if types is None:
            rows = self.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            types = self._column_types[table] = dict(rows)
        return types

    def begin(self, write: bool) -> None:
        """Writes get a transaction; reads run in autocommit mode.

        Under READ COMMITTED every statement takes its own snapshot anyway, so BEGIN/COMMIT around
        reads would only add two round trips per request.
        """
        if write:
            self._raw.execute("BEGIN")

    def commit(self) -> None:
        if self._raw.info.transaction_status != _IDLE:
            self._raw.execute("COMMIT")

    def rollback(self) -> None:
        if self._raw.info.transaction_status != _IDLE:
            self._raw.execute("ROLLBACK")

    def plan_each_statement(self) -> None:
        """Unprepared statements: PostgreSQL plans each for its parameter values (a custom plan)."""
        self._prepare = False

    def lock(self, key: str) -> None:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
        self._raw.execute("SELECT pg_advisory_xact_lock(%s)", (digest,))


# SQL types (as format_type names them) that binary COPY sends from Python int, str and bytes, refusing a value
# that does not fit (binary int4, float8 and bool would take some of those values silently: left to text COPY).
_BINARY_COPY_TYPES = {"bigint": "int8", "text": "text", "bytea": "bytea"}

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
        self._column_types: dict[str, dict[str, str]] = {}  # shared by the connections, see PostgresConn._types

    @contextmanager
    def connection(self, write: bool = False) -> Iterator[Conn]:
        with self._pool.connection() as raw:
            conn = PostgresConn(raw, self._column_types)
            try:
                yield conn
            finally:
                if raw.info.transaction_status != _IDLE:  # end what the caller left open
                    raw.execute("ROLLBACK")

    def close(self) -> None:
        self._pool.close()


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def open_database(url: str) -> Database:
    """``postgresql://...`` for PostgreSQL; ``sqlite:///path`` or a plain path for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url.startswith("sqlite:"):
        parsed = urlparse(url)
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        return SqliteDatabase(path or ":memory:")
    return SqliteDatabase(url)
