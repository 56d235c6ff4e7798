"""The audit spool: where entries of reads wait, durably, until they are chained into the trail.

A read must not be answered before its entry is safe, but a database commit per read (or per small
batch of reads) cost more than the read itself once several worker processes shared the database:
every commit made the others' SQLite connections start over, and the workers queued for the one
write lock. So each process writes the entry of a read to a spool file of its own, one ``write``
call on an ``O_APPEND`` file: once it returns, the entry survives a crash of the process (it is in
the kernel's page cache, as a commit with SQLite ``synchronous=NORMAL`` is). An ingester chains what
the spool files hold into the trail in the database, many entries per transaction, a few times a
second, and remembers per file how far it got (``audit_spool``) in the same transaction, so that
every entry is chained exactly once, whoever ingests (every process of the node may, and the
``samen audit`` commands do first).

Each process holds an ``flock`` on its own file while it lives: a file nobody holds belongs to a
process that is gone, and is removed once everything in it is chained. Entries of writes do not pass
through here: they are chained in the write's own transaction.

File format: entries one after the other, each two lengths (4 bytes each, big-endian), the entry's
fields as a JSON list, and its rendered AuditEvent.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import structlog

from samen.audit import store as entries
from samen.audit.chain import Entry
from samen.store.db import Conn, Database, SqliteDatabase

log = structlog.get_logger("samen.audit")

SUFFIX = ".spool"
_LENGTHS = struct.Struct(">II")
INGEST_BYTES = 8 * 1024 * 1024  # at most this much of one file per transaction
ROTATE_BYTES = 64 * 1024 * 1024  # a process starts a new file once its file is this large and fully chained


class SpoolBroken(Exception):
    """An entry could not be written whole to the spool."""


class SpoolCorrupt(ValueError):
    """A spool file holds something that is not an entry."""


def spool_directory(database: Database, db_url: str) -> Path:
    """Where the node on ``db_url`` spools: beside its SQLite file (a private temporary folder for an
    in-memory database); for PostgreSQL under the user's state directory (``$XDG_STATE_HOME``, else
    ``~/.local/state``), one folder per server and database, on every host that serves the node."""
    if isinstance(database, SqliteDatabase):
        if database.path == ":memory:":
            return Path(tempfile.mkdtemp(prefix="samen-audit-spool-"))
        return Path(database.path + "-audit-spool")
    parts = urlsplit(db_url)
    server = f"{parts.hostname or ''}:{parts.port or ''}{parts.path}"
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "samen" / "audit-spool" / hashlib.sha256(server.encode()).hexdigest()[:16]


def encode(entry: Entry) -> bytes:
    fields = orjson.dumps([entry.recorded_ms, entry.patient, entry.organisation, entry.action, entry.outcome,
                           entry.purpose])
    return _LENGTHS.pack(len(fields), len(entry.event)) + fields + entry.event


def decode(data: bytes) -> tuple[list[Entry], int]:
    """The whole entries at the start of ``data`` and how many bytes they take (a torn tail is left)."""
    found, offset, view = [], 0, memoryview(data)
    while offset + _LENGTHS.size <= len(data):
        fields_size, event_size = _LENGTHS.unpack_from(data, offset)
        end = offset + _LENGTHS.size + fields_size + event_size
        if end > len(data):
            break
        fields_end = offset + _LENGTHS.size + fields_size
        try:
            recorded_ms, patient, organisation, action, outcome, purpose = orjson.loads(
                view[offset + _LENGTHS.size:fields_end])
        except (orjson.JSONDecodeError, TypeError, ValueError) as error:
            raise SpoolCorrupt(f"not an entry at byte {offset}: {error}") from error
        found.append(Entry(0, recorded_ms, patient, organisation, action, outcome, purpose, bytes(view[fields_end:end])))
        offset = end
    return found, offset


class Spool:
    """This process's spool file: :meth:`write` is one ``write`` call per entry, safe from any thread.

    No lock is held during the ``write`` itself: a thread that holds one while the system call runs
    (without the GIL) must take the GIL back before it lets go, which under load waits for other
    threads' switch interval, and every other writer queued behind it (a third of a read's time on
    PostgreSQL). ``O_APPEND`` makes each call land whole at the end of the file; the lock only guards
    which file is current, and a file given up is closed when its last writer is done.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writers: dict[int, int] = {}  # file descriptor -> writes running on it
        self._given_up: set[int] = set()  # descriptors to close once their writes are done
        self._fd = -1
        self.path = self._open_new()

    def _open_new(self) -> Path:
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held while this process lives: the file is not an orphan
        self._fd = fd
        return path

    def write(self, entry: Entry) -> None:
        frame = encode(entry)
        with self._lock:
            fd = self._fd
            if fd < 0:
                raise SpoolBroken("the spool is closed")
            self._writers[fd] = self._writers.get(fd, 0) + 1
        try:
            written = os.write(fd, frame)
        except OSError as error:
            raise SpoolBroken(str(error)) from error
        finally:
            self._written(fd)
        if written != len(frame):  # the disk is full: the file ends in a torn entry; go on in a new one
            with self._lock:
                if self._fd == fd:
                    self._replace()
            raise SpoolBroken(f"{written} of {len(frame)} bytes written")

    def _written(self, fd: int) -> None:
        with self._lock:
            self._writers[fd] -= 1
            if not self._writers[fd]:
                del self._writers[fd]
                if fd in self._given_up:
                    self._given_up.discard(fd)
                    os.close(fd)

    def rotate_if_large(self, chained_to: int) -> None:
        """Start a new file when this one is large and chained up to its end (the old one is then removed)."""
        with self._lock:
            if self._fd < 0:
                return
            size = os.fstat(self._fd).st_size
            if size >= ROTATE_BYTES and chained_to == size:
                self._replace()

    def _replace(self) -> None:
        """Make a new file current (the caller holds the lock) and give up the old one."""
        old = self._fd
        try:
            self.path = self._open_new()
        finally:
            self._give_up(old)

    def _give_up(self, fd: int) -> None:
        """Close ``fd`` (releasing its flock: an ingester removes the file once chained) when no write runs on it."""
        if self._writers.get(fd):
            self._given_up.add(fd)
        else:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                self._give_up(self._fd)
                self._fd = -1


@dataclass(frozen=True)
class Ingested:
    entries: int  # chained now
    position: int  # bytes of the file chained in all
    more: bool  # the file held more than one run takes (INGEST_BYTES): run again


def ingest(database: Database, path: Path) -> Ingested:
    """Chain what ``path`` holds beyond what was chained of it, in a transaction of its own."""
    with database.connection(write=True) as conn:
        conn.begin(True)
        try:
            result = ingest_in(conn, path)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return result


def ingest_in(conn: Conn, path: Path) -> Ingested:
    """Chain what ``path`` holds beyond what was chained of it, in ``conn``'s write transaction.

    The head is locked first (every appender of the node queues there), then the file's progress is
    read, the entries are appended and the progress moved, so two ingesters of one file cannot both
    chain an entry.
    """
    conn.execute("SELECT seq FROM audit_head WHERE id = 1" + conn.dialect.for_update)
    rows = conn.execute("SELECT position FROM audit_spool WHERE name = ?", (path.name,))
    done = int(rows[0][0]) if rows else 0
    with path.open("rb") as file:
        file.seek(done)
        data = file.read(INGEST_BYTES)
    found, size = decode(data)
    if found:
        entries.append(conn, found)
        if rows:
            conn.execute("UPDATE audit_spool SET position = ? WHERE name = ?", (done + size, path.name))
        else:
            conn.execute("INSERT INTO audit_spool (name, position) VALUES (?, ?)", (path.name, size))
    return Ingested(len(found), done + size, more=len(data) == INGEST_BYTES)


def ingest_all(database: Database, directory: Path) -> int:
    """Chain what every spool file in ``directory`` holds; remove the files of processes that are gone
    once chained to their end. How many entries were chained."""
    if not directory.is_dir():
        return 0
    chained = 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            while True:  # the entries there are now: later ones are for the next run
                ingested = ingest(database, path)
                chained += ingested.entries
                if not ingested.more:
                    break
        except FileNotFoundError:  # removed by another ingester meanwhile
            continue
        except SpoolCorrupt as error:
            log.error("an audit spool file is corrupt; it is kept for the operator", file=str(path), error=str(error))
            continue
        _remove_if_orphan(database, path, ingested.position)
    return chained


def _remove_if_orphan(database: Database, path: Path, position: int) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its process lives
        if os.fstat(fd).st_size != position:
            log.error("an audit spool file ends in a torn entry; it is kept for the operator", file=str(path),
                      chained_bytes=position)
            return
        path.unlink(missing_ok=True)  # first the file, then its progress: never a file without its progress
    finally:
        os.close(fd)
    with database.connection(write=True) as conn:
        conn.begin(True)
        conn.execute("DELETE FROM audit_spool WHERE name = ?", (path.name,))
        conn.commit()
