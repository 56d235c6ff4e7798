"""The audit spool: entries of reads wait in a file per process until they are chained, exactly once,
whoever chains them; files of processes that are gone are removed once chained, a torn file is kept."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from samen.audit import spool
from samen.audit import store as entries
from samen.audit.events import Access
from samen.audit.trail import AuditTrail
from samen.cli import main
from samen.store.db import Database, open_database


def read(n: int) -> Access:
    return Access("GET", f"Observation/{n}", status=200, interaction="read", res_type="Observation",
                  patient_bsn="999990019")


def chained_paths(database: Database) -> list[str]:
    with database.connection() as conn:
        return [entry.event.split(b'"description":"GET ')[1].split(b'"')[0].decode() for entry in entries.entries(conn)]


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


@pytest.mark.parametrize("garbage", [b"\x00\x00\x00\x02\x00\x00\x00\x00[]", b"\x00\x00\x00\x04\x00\x00\x00\x00null"])
def test_a_corrupt_file_is_kept_and_does_not_hold_up_the_others(database: Database, tmp_path: Path,
                                                                garbage: bytes) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "1-bad.spool").write_bytes(garbage)
    (directory / "2-good.spool").write_bytes(spool.encode(AuditTrail(database, "x").entry(read(7))))
    assert spool.ingest_all(database, directory) == 1
    assert chained_paths(database) == ["Observation/7"]
    assert (directory / "1-bad.spool").exists() and not (directory / "2-good.spool").exists()
