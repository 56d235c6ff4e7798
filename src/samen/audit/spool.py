"""The audit spool: where entries of reads wait, durably, until they are chained into the trail.

A read must not be answered before its entry is safe, but a database commit per read (or per small
batch of reads) cost more than the read itself once several worker processes shared the database:
every commit made the others' SQLite connections start over, and the workers queued for the one
write lock. So each process copies the entry of a read into a spool file of its own, mapped into
memory (``mmap``, shared with the file): once the copy is done, the entry survives a crash of the
process (it is in the kernel's page cache, as a commit with SQLite ``synchronous=NORMAL`` is). A
``write`` system call would do as much, but the thread gives up the GIL for it and must queue to
take it back: under load that cost more than the rest of the entry (about 35 µs of CPU per read
over HTTP, measured). An ingester chains what the spool files hold into the trail in the database,
many entries per transaction, a few times a second, and remembers per file how far it got
(``audit_spool``) in the same transaction, so that every entry is chained exactly once, whoever
ingests (every process of the node may, and the ``samen audit`` commands do first).

A process spools into segments of :data:`SEGMENT_BYTES`, allocated on disk when they are started
(a full disk fails there, as an error, never later as a fault on the mapped memory); a full segment
is cut to its entries and given up for a new one. Each process holds an ``flock`` on the segment it
writes: a file nobody holds belongs to a process that is gone (or was given up), and is removed once
everything in it is chained. Entries of writes do not pass through here: they are chained in the
write's own transaction.

File format: frames one after the other, each a header (``SAE1``, the lengths of the two parts and
the CRC-32 of both, 4 bytes each, big-endian), the entry's fields as a JSON list, and its rendered
AuditEvent; zeros after the last frame. A frame whose CRC does not match is being written (or was
torn by a crash, if no process holds the file).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import orjson
import structlog

from samen.audit import store as entries
from samen.audit.chain import Entry
from samen.store.db import Conn, Database, SqliteDatabase

log = structlog.get_logger("samen.audit")

SUFFIX = ".spool"
STARTING = ".spool-starting"  # a segment being allocated; renamed to SUFFIX once locked and allocated
STALE_START_S = 60.0  # a segment still being allocated after this long belongs to a process that died
MAGIC = b"SAE1"
_HEADER = struct.Struct(">4sIII")  # magic, fields length, event length, CRC-32 of fields + event
SEGMENT_BYTES = 4 * 1024 * 1024  # what a process allocates per spool file (about 3,500 entries of reads)
READ_BYTES = 1024 * 1024  # how much of a file an ingester reads at a time
INGEST_BYTES = 8 * 1024 * 1024  # at most this much of one file per transaction


class SpoolBroken(Exception):
    """An entry could not be written to the spool."""


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
    checksum = zlib.crc32(entry.event, zlib.crc32(fields))
    return _HEADER.pack(MAGIC, len(fields), len(entry.event), checksum) + fields + entry.event


@dataclass(frozen=True)
class Decoded:
    entries: list[Entry]
    size: int  # bytes the whole entries take
    wanted: int  # the data ended within the next frame, which is this long (0: it stopped before one)


def decode(data: bytes) -> Decoded:
    """The whole entries at the start of ``data``: up to zeros (nothing written yet), a frame being
    written (or torn), or the end of ``data``."""
    found, offset, view = [], 0, memoryview(data)
    while True:
        if offset < len(data) and data[offset] == 0:
            return Decoded(found, offset, 0)
        if offset + _HEADER.size > len(data):
            return Decoded(found, offset, _HEADER.size)
        magic, fields_size, event_size, checksum = _HEADER.unpack_from(data, offset)
        if magic != MAGIC:
            if found:
                return Decoded(found, offset, 0)  # chain these; the next run stops at what follows
            raise SpoolCorrupt(f"not an entry at byte {offset}")
        fields_end = offset + _HEADER.size + fields_size
        end = fields_end + event_size
        if end > len(data):
            return Decoded(found, offset, end - offset)
        fields, event = view[offset + _HEADER.size:fields_end], view[fields_end:end]
        if zlib.crc32(event, zlib.crc32(fields)) != checksum:
            return Decoded(found, offset, 0)
        try:
            recorded_ms, patient, organisation, action, outcome, purpose = orjson.loads(fields)
        except (orjson.JSONDecodeError, TypeError, ValueError) as error:
            raise SpoolCorrupt(f"not an entry at byte {offset}: {error}") from error
        found.append(Entry(0, recorded_ms, patient, organisation, action, outcome, purpose, bytes(event)))
        offset = end


class Spool:
    """This process's spool: :meth:`write` copies an entry into the mapped segment, safe from any thread.

    ``mmap.write`` copies and moves the position without giving up the GIL, so concurrent writers
    need no lock and each frame lands whole, one after the other. The lock only guards replacing a
    full segment; a writer that still held the old one finds it closed and writes to the new one.
    """

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._given_up: list[Path] = []  # full segments of this process, not yet seen removed; oldest first
        self._started = 0
        self._fd, self._map, self.path = self._start(segment_bytes)

    def _start(self, size: int) -> tuple[int, mmap.mmap, Path]:
        """A new segment, locked and allocated before it gets its ``.spool`` name: an ingester that saw
        it unlocked would take it for the file of a process that is gone, and remove it."""
        self._started += 1  # names sort in the order this process started its segments
        path = self.directory / f"{os.getpid()}-{self._started:06d}-{time.time_ns():020d}{SUFFIX}"
        starting = path.with_suffix(STARTING)
        fd = os.open(starting, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held while this process writes it: the file is not an orphan
            os.posix_fallocate(fd, 0, size)  # the disk space now: a full disk is an error here, not a fault later
            segment = mmap.mmap(fd, size)
            os.rename(starting, path)
            return fd, segment, path
        except OSError as error:
            os.close(fd)
            starting.unlink(missing_ok=True)
            raise SpoolBroken(f"no audit spool segment could be allocated: {error}") from error

    def write(self, entry: Entry) -> None:
        frame = encode(entry)
        while True:
            segment = self._map
            try:
                segment.write(frame)
                return
            except ValueError:  # full, or given up meanwhile by another writer
                with self._lock:
                    if self._fd < 0:
                        raise SpoolBroken("the spool is closed") from None
                    if self._map is segment:
                        self._replace(max(self.segment_bytes, len(frame)))

    def files(self) -> list[Path]:
        """This process's spool files, oldest first: its given-up segments not yet seen removed, then the current."""
        with self._lock:
            self._given_up = [path for path in self._given_up if path.exists()]
            return [*self._given_up, *([self.path] if self._fd >= 0 else [])]

    def _replace(self, size: int) -> None:
        """Start a new segment (the caller holds the lock), then give up the full one."""
        fd, segment, path = self._start(size)
        old_fd, old_map, old_path = self._fd, self._map, self.path
        self._fd, self._map, self.path = fd, segment, path
        self._given_up.append(old_path)
        self._give_up(old_fd, old_map)

    @staticmethod
    def _give_up(fd: int, segment: mmap.mmap) -> None:
        """Close a segment; closing ``fd`` then releases the flock, and an ingester removes the file once
        chained (zeros after its entries). Not cut to its entries: a writer that took the map before
        it was replaced may still copy a frame into it until it is closed."""
        segment.close()
        os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                self._given_up.append(self.path)
                self._give_up(self._fd, self._map)
                self._fd = -1


@dataclass(frozen=True)
class Ingested:
    entries: int  # chained now
    position: int  # bytes of the file chained in all
    more: bool  # the file held more than one run takes (INGEST_BYTES): run again


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
        found, size, more = _read_entries(file, done)
    if found:
        entries.append(conn, found)
        if rows:
            conn.execute("UPDATE audit_spool SET position = ? WHERE name = ?", (done + size, path.name))
        else:
            conn.execute("INSERT INTO audit_spool (name, position) VALUES (?, ?)", (path.name, size))
    return Ingested(len(found), done + size, more)


def _read_entries(file: BinaryIO, start: int) -> tuple[list[Entry], int, bool]:
    """The whole entries from byte ``start`` on, up to :data:`INGEST_BYTES` of them: (the entries, the
    bytes they take, whether more may follow). Reads a chunk at a time, not the zeros of a whole segment."""
    found: list[Entry] = []
    size, want = 0, READ_BYTES
    while size < INGEST_BYTES:
        file.seek(start + size)
        data = file.read(want)
        decoded = decode(data)
        found += decoded.entries
        size += decoded.size
        if not decoded.wanted or len(data) < want:
            return found, size, False  # the end of what is written, or of the file
        want = max(READ_BYTES, decoded.wanted)  # the next frame goes on beyond this chunk
    return found, size, True


def ingest_all(database: Database, directory: Path) -> int:
    """Chain what every spool file in ``directory`` holds, each process's in the order it wrote them, in
    one transaction for all (a commit per file and run made every other connection of SQLite start its
    next read afresh); remove the files that no process holds any more (of processes that are gone,
    full segments let go of) once chained to their end. How many entries were chained."""
    if not directory.is_dir():
        return 0
    _remove_stale_starts(directory)
    return chain(database, sorted(directory.glob(f"*{SUFFIX}")))


def _remove_stale_starts(directory: Path) -> None:
    """Remove segments whose process died while allocating them (they hold no entries). Only old ones:
    a live process holds its new segment's file for the moment it allocates it, and may not have
    locked it yet."""
    stale = []
    for path in directory.glob(f"*{STARTING}"):
        try:
            if time.time() - path.stat().st_mtime > STALE_START_S:
                stale.append(path)
        except FileNotFoundError:  # renamed by its process meanwhile
            continue
    for path, fd in _files_let_go(stale).items():
        path.unlink(missing_ok=True)
        os.close(fd)


def chain(database: Database, paths: list[Path]) -> int:
    """Chain what the spool files ``paths`` hold, in that order (see :func:`ingest_all`). How many entries."""
    let_go = _files_let_go(paths)  # before chaining: whatever their processes wrote is there now
    try:
        chained, positions = _chain_all(database, paths)
        for path, fd in let_go.items():
            if path in positions:
                _remove_if_chained(database, path, fd, positions[path])
    finally:
        for fd in let_go.values():
            os.close(fd)
    return chained


def _files_let_go(paths: list[Path]) -> dict[Path, int]:
    """Those of ``paths`` no process holds, each with a descriptor holding its flock now."""
    held = {}
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held[path] = fd
        except OSError:  # BlockingIOError: its process writes it
            os.close(fd)
    return held


def _chain_all(database: Database, paths: list[Path]) -> tuple[int, dict[Path, int]]:
    """Chain ``paths`` in order, a transaction per run over all of them: (entries chained, how far each
    file is chained). A corrupt file is left out, with an error in the log, and holds up none of the others."""
    chained, positions, pending = 0, {}, paths
    while pending:
        more = []
        with database.connection(write=True) as conn:
            conn.begin(True)
            try:
                for path in pending:
                    conn.execute("SAVEPOINT spool_file")  # a file that fails holds up none of the others
                    try:
                        ingested = ingest_in(conn, path)
                        conn.execute("RELEASE SAVEPOINT spool_file")
                    except FileNotFoundError:  # removed by another ingester meanwhile
                        conn.execute("ROLLBACK TO SAVEPOINT spool_file")
                        continue
                    except SpoolCorrupt as error:
                        conn.execute("ROLLBACK TO SAVEPOINT spool_file")
                        _report_once(path, "an audit spool file is corrupt; it is kept for the operator",
                                     error=str(error))
                        continue
                    except Exception:
                        conn.execute("ROLLBACK TO SAVEPOINT spool_file")
                        log.exception("an audit spool file could not be chained; it is tried again", file=str(path))
                        continue
                    chained += ingested.entries
                    positions[path] = ingested.position
                    if ingested.more:
                        more.append(path)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        pending = more
    return chained, positions


def _remove_if_chained(database: Database, path: Path, fd: int, position: int) -> None:
    """Remove a file nobody writes any more if nothing but zeros follows what was chained of it."""
    offset = position
    while chunk := os.pread(fd, READ_BYTES, offset):
        if chunk.count(0) != len(chunk):
            _report_once(path, "an audit spool file ends in a torn entry; it is kept for the operator",
                         chained_bytes=position)
            return
        offset += len(chunk)
    path.unlink(missing_ok=True)  # first the file, then its progress: never a file without its progress
    with database.connection(write=True) as conn:
        conn.begin(True)
        conn.execute("DELETE FROM audit_spool WHERE name = ?", (path.name,))
        conn.commit()


_reported: set[Path] = set()  # files this process has logged as kept for the operator


def _report_once(path: Path, message: str, **details: object) -> None:
    """Log a kept file once per process, not at every chaining run (5 times a second)."""
    if path not in _reported:
        _reported.add(path)
        log.error(message, file=str(path), **details)
