"""The audit spool: entries of reads wait in a file per process until they are chained, exactly once,
whoever chains them; files of processes that are gone are removed once chained, a torn file is kept."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from samen.audit import spool
from samen.audit import store as entries
from samen.audit.events import Access, audit_event_of
from samen.audit.trail import AuditTrail
from samen.cli import main
from samen.store.db import Database, open_database


def read(n: int) -> Access:
    return Access("GET", f"Observation/{n}", status=200, interaction="read", res_type="Observation",
                  patient_bsn="999990019")


def chained_paths(database: Database) -> list[str]:
    with database.connection() as conn:
        return [audit_event_of(entry.event, entry.recorded_ms)["entity"][0]["description"].removeprefix("GET ")
                for entry in entries.entries(conn)]


def spool_and_die(database_url: str, directory: str, count: int) -> None:
    """A worker process that spools ``count`` reads and is killed before it chains any."""
    database = open_database(database_url)
    trail = AuditTrail(database, "http://node.test/fhir", Path(directory))
    for n in range(count):
        trail.record(read(n))
    os.kill(os.getpid(), signal.SIGKILL)


def test_what_a_killed_process_spooled_is_chained_once_and_its_file_removed(database_url: str, database: Database,
                                                                             tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # where a PostgreSQL node spools (the child inherits it)
    directory = spool.spool_directory(database, database_url)  # the node's, where `samen audit` looks
    worker = multiprocessing.get_context("spawn").Process(target=spool_and_die, args=(database_url, str(directory), 30))
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    assert chained_paths(database) == []  # killed before the trail chained anything
    assert len(list(directory.glob("*.spool"))) == 1
    result = CliRunner().invoke(main, ["audit", "verify", "--db", database_url])
    assert result.exit_code == 0, result.output  # the command chained the spool first, and the chain holds
    assert spool.ingest_all(database, directory) == 0  # nothing left to chain
    assert chained_paths(database) == [f"Observation/{n}" for n in range(30)]
    assert list(directory.glob("*.spool")) == []  # its process is gone and everything in it is chained
    assert spool.ingest_all(database, directory) == 0
    with database.connection() as conn:
        assert entries.verify_chain(conn).intact
        assert conn.execute("SELECT count(*) FROM audit_spool")[0][0] == 0


def test_a_live_process_keeps_its_file_and_later_entries_follow(database: Database, tmp_path: Path) -> None:
    trail = AuditTrail(database, "http://node.test/fhir", tmp_path / "spool")
    try:
        trail.record(read(1))
        trail.flush()
        trail.record(read(2))
        trail.flush()
        assert len(list((tmp_path / "spool").glob("*.spool"))) == 1  # still this process's
        assert chained_paths(database) == ["Observation/1", "Observation/2"]
    finally:
        trail.close()
    assert list((tmp_path / "spool").glob("*.spool")) == []  # given up at close, once chained


def test_a_file_ending_in_a_torn_entry_chains_the_whole_ones_and_is_kept(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    trail = AuditTrail(database, "http://node.test/fhir")  # renders entries; spools nowhere
    whole = b"".join(spool.encode(trail.entry(read(n))) for n in range(3))
    torn = spool.encode(trail.entry(read(3)))[:-7]  # a full disk cut the last entry short
    (directory / "1-dead.spool").write_bytes(whole + torn)
    assert spool.ingest_all(database, directory) == 3
    assert chained_paths(database) == ["Observation/0", "Observation/1", "Observation/2"]
    assert (directory / "1-dead.spool").exists()  # kept for the operator: it ends in a torn entry
    assert spool.ingest_all(database, directory) == 0  # and its whole entries are not chained twice


def frame(fields: bytes, event: bytes) -> bytes:
    return spool.MAGIC + struct.pack(">III", len(fields), len(event), zlib.crc32(event, zlib.crc32(fields))) + fields + event


@pytest.mark.parametrize("garbage", [b"not a spool file at all", frame(b"null", b"{}"), frame(b"[1, 2]", b"{}")])
def test_a_corrupt_file_is_kept_and_does_not_hold_up_the_others(database: Database, tmp_path: Path,
                                                                garbage: bytes) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "1-bad.spool").write_bytes(garbage)
    (directory / "2-good.spool").write_bytes(spool.encode(AuditTrail(database, "x").entry(read(7))))
    assert spool.ingest_all(database, directory) == 1
    assert chained_paths(database) == ["Observation/7"]
    assert (directory / "1-bad.spool").exists() and not (directory / "2-good.spool").exists()


def test_full_segments_are_chained_in_order_and_removed(database: Database, tmp_path: Path) -> None:
    """A process writes on in a new segment when one is full; its files chain in the order it wrote them."""
    trail = AuditTrail(database, "http://node.test/fhir")
    writer = spool.Spool(tmp_path / "spool", segment_bytes=1024)  # a few entries per segment
    try:
        for n in range(20):
            writer.write(trail.entry(read(n)))
        writer.write(trail.entry(Access("GET", "Observation/big", query="q" * 10_000)))  # more than a segment
        writer.write(trail.entry(read(20)))
        files = writer.files()
        assert len(files) >= 5 and files[-1] == writer.path
        assert sorted(tmp_path.joinpath("spool").glob("*.spool")) == files  # names sort in the order written
        spool.chain(database, files)
        assert chained_paths(database) == [*(f"Observation/{n}" for n in range(20)), "Observation/big", "Observation/20"]
        assert writer.files() == [writer.path]  # given up and chained: removed; the current one is kept
    finally:
        writer.close()
    assert spool.ingest_all(database, tmp_path / "spool") == 0
    assert list(tmp_path.joinpath("spool").glob("*.spool")) == []
    with database.connection() as conn:
        assert entries.verify_chain(conn).intact


def test_concurrent_writers_lose_nothing_across_segments(database: Database, tmp_path: Path) -> None:
    trail = AuditTrail(database, "http://node.test/fhir")
    writer = spool.Spool(tmp_path / "spool", segment_bytes=4096)

    def write(thread: int) -> None:
        for n in range(200):
            writer.write(trail.entry(read(thread * 1000 + n)))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert spool.ingest_all(database, tmp_path / "spool") == 800
    chained = chained_paths(database)
    assert sorted(chained) == sorted(f"Observation/{t * 1000 + n}" for t in range(4) for n in range(200))
    for thread in range(4):  # each thread's entries in its order
        mine = [path for path in chained if int(path.split("/")[1]) // 1000 == thread]
        assert mine == [f"Observation/{thread * 1000 + n}" for n in range(200)]


def test_an_entry_being_written_waits_until_it_is_whole(database: Database, tmp_path: Path) -> None:
    """A frame whose bytes are not all there yet (its CRC does not match) in a file a live process holds is left
    for the next run, and then chained."""
    directory = tmp_path / "spool"
    directory.mkdir()
    trail = AuditTrail(database, "http://node.test/fhir")
    first, second = (spool.encode(trail.entry(read(n))) for n in (1, 2))
    path = directory / "1-live.spool"
    path.write_bytes(first + second[:40] + bytes(len(second) - 40) + bytes(4096))  # preallocated: zeros follow
    holder = os.open(path, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # its process lives
    try:
        assert spool.ingest_all(database, directory) == 1
        os.pwrite(holder, second, len(first))  # the copy completes
        assert spool.ingest_all(database, directory) == 1
        assert chained_paths(database) == ["Observation/1", "Observation/2"]
        assert path.exists()
    finally:
        os.close(holder)
    assert spool.ingest_all(database, directory) == 0
    assert not path.exists()  # let go of, chained to its end, zeros after: removed


def test_whole_entries_before_something_that_is_not_one_are_chained(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    trail = AuditTrail(database, "http://node.test/fhir")
    (directory / "1-dead.spool").write_bytes(spool.encode(trail.entry(read(1))) + b"garbage, not a frame")
    assert spool.ingest_all(database, directory) == 1
    assert chained_paths(database) == ["Observation/1"]
    assert (directory / "1-dead.spool").exists()  # kept for the operator
    assert spool.ingest_all(database, directory) == 0


def test_a_file_that_cannot_be_chained_holds_up_none_of_the_others(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "1-odd.spool").mkdir()  # cannot be read as a file: the chaining of it fails
    (directory / "2-good.spool").write_bytes(spool.encode(AuditTrail(database, "x").entry(read(7))))
    assert spool.ingest_all(database, directory) == 1
    assert chained_paths(database) == ["Observation/7"]
    with database.connection() as conn:
        assert entries.verify_chain(conn).intact


def test_segments_of_processes_that_died_while_allocating_them_are_removed(database: Database,
                                                                         tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    stale, fresh = directory / f"1-old{spool.STARTING}", directory / f"2-new{spool.STARTING}"
    for path in (stale, fresh):
        path.write_bytes(bytes(4096))
    long_ago = time.time() - spool.STALE_START_S - 1
    os.utime(stale, (long_ago, long_ago))
    assert spool.ingest_all(database, directory) == 0
    assert not stale.exists()
    assert fresh.exists()  # its process may be about to lock it
