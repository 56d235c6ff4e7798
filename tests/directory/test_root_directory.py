"""The root directory (LRZa role): entries managed by its operator (CLI, in-process), read with directory-query
tokens, never written by other organisations."""

from __future__ import annotations

from pathlib import Path

import httpx
from auth.orgs import Organisation, get_token, identity, write_trust_list
from click.testing import CliRunner
from serving import served_node

from samen.cli import main
from samen.directory import mcsd
from samen.directory.root import endpoint_id, organisation_id
from samen.fhir.model import Model


def test_the_operator_adds_and_removes_entries_with_the_cli(tmp_path: Path, model: Model) -> None:
    db = str(tmp_path / "root.db")
    runner = CliRunner()
    added = runner.invoke(main, ["directory", "root", "add", "--db", db, "--ura", "11110001", "--name",
                                 "Ziekenhuis Oost", "--type", "V4", "--endpoint", "https://oost.example/fhir/"])
    assert added.exit_code == 0, added.output
    bad = runner.invoke(main, ["directory", "root", "add", "--db", db, "--ura", "123", "--name", "X", "--type", "V4",
                               "--endpoint", "https://x.example/fhir"])
    assert bad.exit_code != 0 and "8 digits" in bad.output

    with served_node(db, model, roles=("root-directory",)) as root:
        base = root.settings.base_url
        organisation = httpx.get(f"{base}/Organization/{organisation_id('11110001')}").json()
        assert organisation["identifier"] == [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "11110001"}]
        endpoint = httpx.get(f"{base}/Endpoint/{endpoint_id('11110001')}").json()
        assert endpoint["address"] == "https://oost.example/fhir" and mcsd.is_admin_directory(endpoint)

    removed = runner.invoke(main, ["directory", "root", "remove", "--db", db, "--ura", "11110001"])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(main, ["directory", "root", "remove", "--db", db, "--ura", "11110001"])
    assert again.exit_code != 0 and "not listed" in again.output


def test_organisations_read_the_root_and_cannot_write_it(tmp_path: Path, model: Model) -> None:
    lrza = Organisation.create(tmp_path, "90000001", "LRZa", "V4")
    member = Organisation.create(tmp_path, "11110001", "Ziekenhuis Oost", "V4")
    trust = write_trust_list(tmp_path / "trust.json", [lrza.entry(), member.entry()])
    with served_node(str(tmp_path / "root.db"), model, open_mode=False, roles=("root-directory",),
                     **identity(lrza, trust)) as root:
        base = root.settings.base_url
        reader = get_token(base, member, scopes="system/Organization.rs system/Endpoint.rs", purpose="directory-query")
        history = httpx.get(f"{base}/Organization/_history", headers={"Authorization": f"Bearer {reader}"})
        assert history.status_code == 200, history.text
        entry = {"resourceType": "Organization", "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura",
                                                                   "value": "11110001"}], "name": "Oost"}
        writer = get_token(base, member, scopes="system/Organization.cu", purpose="directory-update")
        refused = httpx.post(f"{base}/Organization", json=entry, headers={"Authorization": f"Bearer {writer}"})
        assert refused.status_code == 403, refused.text
        admin = get_token(base, lrza, scopes="system/Organization.cu", purpose="admin")
        written = httpx.post(f"{base}/Organization", json=entry, headers={"Authorization": f"Bearer {admin}"})
        assert written.status_code == 201, written.text
