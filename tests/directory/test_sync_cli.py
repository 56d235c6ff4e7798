"""``samen directory sync`` and ``samen directory trust-list``: reports per source, the trust list after a run,
tokens at a root that is not open, the exit status when a directory is down."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from auth.orgs import Organisation, identity, write_trust_list
from click.testing import CliRunner
from mcsd_network import LINDE, OOST, network, organisation, put

from samen.cli import main
from samen.fhir.model import Model
from samen.store.db import open_database
from samen.store.store import Store


def test_sync_writes_reports_and_the_trust_list(tmp_path: Path, model: Model) -> None:
    query_org = Organisation.create(tmp_path, "66660006", "Adresboek Regio", "V4")
    lrza = Organisation.create(tmp_path, "90000001", "LRZa", "V4")
    trusted = write_trust_list(tmp_path / "root-trust.json", [lrza.entry(), query_org.entry()])
    oost = Organisation.create(tmp_path, OOST, "Ziekenhuis Oost", "V4")
    linde = Organisation.create(tmp_path, LINDE, "Huisartspraktijk De Linde", "Z3")
    admins = {org.ura: identity(org, trusted) for org in (oost, linde)}  # they issue tokens to the query directory
    root_settings = {"open_mode": False, **identity(lrza, trusted)}
    with network(tmp_path, model, root_settings, **admins) as net:
        reports, trust = tmp_path / "reports", tmp_path / "trust.json"
        args = ["directory", "sync", "--db", str(tmp_path / "query.db"), "--root", net.root.settings.base_url,
                "--keys", str(query_org.keys.directory), "--report-dir", str(reports), "--trust-list", str(trust)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "3 sources: 16 created" in result.output  # root 4, Oost 8, De Linde 4
        written = [orjson.loads(path.read_bytes()) for path in sorted(reports.iterdir())]
        assert {(r["role"], r["status"]) for r in written} == {("root", "ok"), ("administration", "ok")}
        assert all(r["since"] for r in written)
        assert [o["ura"] for o in orjson.loads(trust.read_bytes())["organisations"]] == [OOST]

        net.stop(LINDE)
        down = CliRunner().invoke(main, args)
        assert down.exit_code == 1
        assert "not synced: " + net.admins_url(LINDE) in down.output

        listed = CliRunner().invoke(main, ["directory", "trust-list", "--db", str(tmp_path / "query.db"),
                                           "--out", str(tmp_path / "again.json")])
        assert listed.exit_code == 0 and "1 organisations" in listed.output


def test_sync_without_a_token_at_a_closed_root_fails_clearly(tmp_path: Path, model: Model) -> None:
    lrza = Organisation.create(tmp_path, "90000001", "LRZa", "V4")
    trusted = write_trust_list(tmp_path / "root-trust.json", [lrza.entry()])
    with network(tmp_path, model, {"open_mode": False, **identity(lrza, trusted)}) as net:
        result = CliRunner().invoke(main, ["directory", "sync", "--db", str(tmp_path / "q.db"),
                                           "--root", net.root.settings.base_url])
        assert result.exit_code == 1
        assert f"{net.root.settings.base_url}: unreachable" in result.output and "HTTP 401" in result.output
        assert result.output.rstrip().endswith(f"not synced: {net.root.settings.base_url}")


def test_scheduled_sync_brings_changes_until_interrupted(tmp_path: Path, model: Model, database_url: str) -> None:
    """``--every``: the command keeps running, a change in a directory arrives by itself, Ctrl-C stops it cleanly."""
    reports = tmp_path / "reports"
    with network(tmp_path, model) as net:
        command = [str(Path(sys.executable).parent / "samen"), "directory", "sync", "--db", database_url,
                   "--root", net.root.settings.base_url, "--every", "1", "--report-dir", str(reports)]
        # files, not pipes: the command prints progress every second, and a full pipe would stall it
        out_path, err_path = tmp_path / "sync.out", tmp_path / "sync.err"
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out_file, stderr=err_file)
        try:
            assert _wait_for(lambda: _name(database_url, model, net.local(LINDE, "linde")) is not None)
            put(net.admins[LINDE], organisation("linde", "De Linde Huisartsen", ura=LINDE, org_type="Z3",
                                                endpoints=("linde-fhir",)))
            assert _wait_for(lambda: _name(database_url, model, net.local(LINDE, "linde")) == "De Linde Huisartsen")
            # the run that copied the change may still be busy with other sources, and prints its summary after
            # its reports: wait for the reports of the run after it, so that summary is out before Ctrl-C
            written = len(list(reports.iterdir()))
            assert _wait_for(lambda: len(list(reports.iterdir())) >= written + 6)
            assert process.poll() is None  # still running
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        out, err = out_path.read_text(), err_path.read_text()
        assert process.returncode == 0, err
        assert "stopped" in err
        runs = [line for line in out.splitlines() if line.startswith("3 sources:")]
        assert len(runs) >= 2 and any("1 updated" in line for line in runs[1:]), out


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _name(database_url: str, model: Model, res_id: str) -> str | None:
    database = open_database(database_url)
    try:
        database.migrate()
        with Store(database, model).session(write=False) as session:
            found = session.read("Organization", res_id)
    finally:
        database.close()
    return None if found is None or found.deleted else orjson.loads(found.content).get("name")
