"""The hash chain: every kind of tampering is caught at the right entry, on both engines; pruning and
concurrent appenders (two "worker processes": two databases on one store) keep it intact."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from samen.audit import store as entries
from samen.audit.chain import Entry, entry_hash
from samen.audit.events import Access
from samen.audit.trail import AuditTrail
from samen.cli import main
from samen.store.db import Conn, Database, open_database

ENTRIES = 6


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def trail(database: Database, spool: Path) -> Iterator[AuditTrail]:
    trail = AuditTrail(database, "http://node.test/fhir", spool)
    yield trail
    trail.close()


def record(trail: AuditTrail, count: int, first: int = 1) -> None:
    """Record ``count`` reads, then chain them (as the trail does a few times a second)."""
    for n in range(first, first + count):
        trail.record(Access("GET", f"Observation/{n}", status=200, interaction="read", res_type="Observation",
                            patient_bsn="999990019" if n % 2 else "999990020"))
    trail.flush()


def verdict(database: Database) -> entries.Verdict:
    with database.connection() as conn:
        return entries.verify_chain(conn)


def tamper(database: Database, *statements: tuple[str, tuple]) -> None:
    with database.connection(write=True) as conn:
        conn.begin(True)
        for sql, args in statements:
            conn.execute(sql, args)
        conn.commit()


def read(database: Database, seq: int) -> Entry:
    with database.connection() as conn:
        found = entries.read(conn, seq)
    assert found is not None
    return found


def test_an_untouched_chain_verifies(trail: AuditTrail, database: Database) -> None:
    record(trail, ENTRIES)
    result = verdict(database)
    assert result.intact and result.entries == ENTRIES, result
    assert read(database, 2).prev_hash == read(database, 1).hash


def _forged(database: Database, seq: int, prev_seq: int) -> Entry:
    """A well-formed entry chained after entry ``prev_seq``, as a forger with database access would write it."""
    template = read(database, prev_seq)
    forged = Entry(seq, template.recorded_ms, "999990019", "", "R", "0", "", b'{"resourceType":"AuditEvent"}',
                   template.hash)
    return forged._replace(hash=entry_hash(template.hash, forged))


def _insert(entry: Entry) -> tuple[str, tuple]:
    return ("INSERT INTO audit_entry (seq, recorded_ms, patient, organisation, action, outcome, purpose, event, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.seq, entry.recorded_ms, entry.patient, entry.organisation, entry.action, entry.outcome,
             entry.purpose, entry.event, entry.prev_hash, entry.hash))


TAMPERING: dict[str, tuple[Callable[[Database], list[tuple[str, tuple]]], int, str]] = {
    # name: (statements, the entry verify must name, words its message must hold)
    "edited JSON": (lambda db: [("UPDATE audit_entry SET event = ? WHERE seq = 3",
                                 (read(db, 3).event.replace(b'"GET"', b'"PUT"'),))], 3, "edited"),
    "edited patient column": (lambda db: [("UPDATE audit_entry SET patient = '' WHERE seq = 4", ())], 4, "edited"),
    "edited hash": (lambda db: [("UPDATE audit_entry SET hash = ? WHERE seq = 3", ("0" * 64,))], 3, "edited"),
    "removed middle entry": (lambda db: [("DELETE FROM audit_entry WHERE seq = 3", ())], 3, "missing"),
    "removed last entry": (lambda db: [("DELETE FROM audit_entry WHERE seq = ?", (ENTRIES,))], ENTRIES, "missing"),
    "swapped entries": (lambda db: [("UPDATE audit_entry SET seq = -2 WHERE seq = 2", ()),
                                    ("UPDATE audit_entry SET seq = 2 WHERE seq = 4", ()),
                                    ("UPDATE audit_entry SET seq = 4 WHERE seq = -2", ())], 2, "reordered"),
    "forged entry inserted": (lambda db: [("UPDATE audit_entry SET seq = -seq WHERE seq >= 3", ()),
                                          ("UPDATE audit_entry SET seq = 1 - seq WHERE seq < 0", ()),
                                          _insert(_forged(db, 3, 2))], 4, "recorded as 3"),
    "forged entry appended": (lambda db: [_insert(_forged(db, ENTRIES + 1, ENTRIES))], ENTRIES + 1, "outside"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_verify_names_the_first_tampered_entry(trail: AuditTrail, database: Database, kind: str) -> None:
    record(trail, ENTRIES)
    statements, broken_at, words = TAMPERING[kind]
    tamper(database, *statements(database))
    result = verdict(database)
    assert not result.intact, kind
    assert result.broken_at == broken_at, result
    assert words in result.problem, result


def test_samen_audit_verify_exit_codes(trail: AuditTrail, database_url: str, database: Database) -> None:
    record(trail, ENTRIES)
    runner = CliRunner()
    intact = runner.invoke(main, ["audit", "verify", "--db", database_url])
    assert intact.exit_code == 0 and f"{ENTRIES} entries, chain intact" in intact.output, intact.output
    tamper(database, ("DELETE FROM audit_entry WHERE seq = 2", ()))
    broken = runner.invoke(main, ["audit", "verify", "--db", database_url])
    assert broken.exit_code == 1 and "chain broken at entry 2" in broken.output, broken.output


def test_pruning_keeps_the_rest_verifiable(trail: AuditTrail, database: Database) -> None:
    record(trail, 3)
    time.sleep(0.01)
    cutoff = read(database, 3).recorded_ms + 1
    time.sleep(0.01)
    record(trail, 3, first=4)
    with database.connection(write=True) as conn:
        conn.begin(True)
        assert entries.prune(conn, cutoff) == 3
        conn.commit()
    result = verdict(database)
    assert result.intact and result.entries == 3, result
    record(trail, 1, first=7)
    assert verdict(database).intact
    tamper(database, ("DELETE FROM audit_entry WHERE seq = 4", ()))  # the first entry after the anchor
    assert verdict(database).broken_at == 4


def test_the_cli_prunes_by_age(trail: AuditTrail, database_url: str, database: Database) -> None:
    record(trail, 2)
    result = CliRunner().invoke(main, ["audit", "prune", "--db", database_url, "--older-than-days", "1"])
    assert result.exit_code == 0 and "0 entries removed" in result.output  # nothing is a day old
    tamper(database, ("UPDATE audit_head SET seq = seq", ()))
    assert verdict(database).intact


def test_concurrent_appenders_of_two_processes_keep_one_chain(trail: AuditTrail, database_url: str,
                                                              database: Database, spool: Path) -> None:
    """Both chain every spool file they find, at the same time: each entry is chained exactly once."""
    other_database = open_database(database_url)  # another worker process: its own connections and locks
    other = AuditTrail(other_database, "http://node.test/fhir", spool)
    try:
        threads = [threading.Thread(target=record, args=(t, 25)) for t in (trail, trail, other, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
        other_database.close()
    result = verdict(database)
    assert result.intact and result.entries == 100, result


def test_spooled_entries_chain_after_the_head_others_moved(trail: AuditTrail, database_url: str,
                                                           database: Database, spool: Path) -> None:
    """Another worker's entries and a write's entry move the head between two ingestions of a process."""
    other_database = open_database(database_url)
    other = AuditTrail(other_database, "http://node.test/fhir", spool)
    try:
        record(trail, 2)
        record(other, 2, first=3)
        with database.connection(write=True) as conn:
            conn.begin(True)
            entries.append(conn, [trail.entry(Access("PUT", "Patient/5"))])
            conn.commit()
        record(trail, 2, first=6)
        record(other, 1, first=8)
    finally:
        other.close()
        other_database.close()
    result = verdict(database)
    assert result.intact and result.entries == 8, result
    paths = ["Patient/5" if seq == 5 else f"Observation/{seq}" for seq in range(1, 9)]
    assert all(path.encode() in read(database, seq).event for seq, path in enumerate(paths, 1))


def test_the_head_is_locked_by_each_append(database: Database) -> None:
    """Appends in one transaction see and move the head (the lock that orders the chain)."""
    conn: Conn
    trail = AuditTrail(database, "x", enabled=True)
    try:
        with database.connection(write=True) as conn:
            conn.begin(True)
            chained = entries.append(conn, [trail.entry(Access("GET", "Patient/1")) for _ in range(3)])
            conn.commit()
        assert [e.seq for e in chained] == [1, 2, 3]
        with database.connection() as conn:
            assert entries.head(conn).seq == 3 and entries.head(conn).hash == chained[-1].hash
    finally:
        trail.close()


def test_samen_audit_show_by_patient(trail: AuditTrail, database_url: str) -> None:
    record(trail, 4)  # odd entries are 999990019's, even ones 999990020's
    shown = CliRunner().invoke(main, ["audit", "show", "--db", database_url, "--patient", "999990020"])
    assert shown.exit_code == 0, shown.output
    lines = [orjson.loads(line) for line in shown.output.splitlines()]
    assert [line["seq"] for line in lines] == [4, 2]
    assert CliRunner().invoke(main, ["audit", "show", "--db", database_url]).exit_code == 2
