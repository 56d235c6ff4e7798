"""`samen bgz`: the summary per section and per custodian, the Bundle with --json, refusals of bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
from auth.orgs import TEST_BSN
from bgz_network import NURSING_URA, network
from click.testing import CliRunner

from samen.cli import main
from samen.fhir.model import Model


def test_samen_bgz_prints_sections_and_custodians(tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        settings = net.requester.settings
        args = ["bgz", "--patient", TEST_BSN, "--attestation", "-", "--db", database_url,
                "--base-url", settings.base_url, "--keys", settings.keys_dir, "--trust-list", settings.trust_list,
                "--organisation-type", "V4", "--query-directory", settings.query_directory,
                "--localization-index", settings.localization_index, "--pseudonymiser", settings.pseudonymiser]
        runner = CliRunner()
        printed = runner.invoke(main, args, input=net.attestation())
        as_json = runner.invoke(main, [*args, "--json", "--medication"], input=net.attestation())
        bad_bsn = runner.invoke(main, [*args[:2], "123456789", *args[3:]], input=net.attestation())
        stranger = runner.invoke(main, args, input=net.dezi.attestation(NURSING_URA))
    assert printed.exit_code == 0, printed.output
    assert "Allergies (1)\n  AllergyIntolerance Penicilline  [Ziekenhuis Oost, Huisartspraktijk De Linde]" \
        in printed.output
    assert "Verpleeghuis Avondrust (URA 66660006): refused: The patient's consent" in printed.output
    assert "Ziekenhuis Oost (URA 11110001): ok: " in printed.output
    assert as_json.exit_code == 0, as_json.output
    bundle = orjson.loads(as_json.stdout)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]][0] == "MedicationDispense"
    assert bad_bsn.exit_code == 2 and "not a valid BSN" in bad_bsn.output
    assert stranger.exit_code == 1 and "another professional or organisation" in stranger.output
