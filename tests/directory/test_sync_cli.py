"""``samen directory sync`` and ``samen directory trust-list``: reports per source, the trust list after a run,
tokens at a root that is not open, the exit status when a directory is down."""

from __future__ import annotations

from pathlib import Path

import orjson
from auth.orgs import Organisation, identity, write_trust_list
from click.testing import CliRunner
from mcsd_network import LINDE, OOST, network

from samen.cli import main
from samen.fhir.model import Model


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
