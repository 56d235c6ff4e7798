"""Using the output: `samen synth --help`, the CLI run, import into a node, validation against R4 + nl-core."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import manifest, resources

from samen.cli import main
from samen.fhir.conformance import Conformance
from samen.fhir.conformance.loading import load_packages
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator
from samen.store.db import open_database
from samen.store.store import Store


def test_help_explains_the_command() -> None:
    result = CliRunner().invoke(main, ["synth", "--help"])
    assert result.exit_code == 0
    for words in ("--people", "--seed", "--region", "--out", "--format", "samen import", "manifest.json",
                  "Rotterdam-Rijnmond"):
        assert words in result.output


def test_cli_generates_and_refuses_a_full_folder(tmp_path: Path) -> None:
    args = ["synth", "--people", "50", "--region", "utrecht", "--out", str(tmp_path / "out"), "--no-progress",
            "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert manifest(tmp_path / "out")["region"] == "Utrecht"
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "not empty" in again.output


@pytest.mark.parametrize("output_format", ["ndjson", "bundle"])
def test_custodian_folders_import_into_a_node(tmp_path: Path, output_format: str) -> None:
    """Each custodian's folder loads into its own SQLite node with `samen import`, ids kept."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["synth", "--people", "120", "--seed", "5", "--out", str(out),
                                       "--format", output_format, "--no-progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    for custodian in manifest(out)["custodians"]:
        database = tmp_path / f"{custodian['folder']}.db"
        imported = CliRunner().invoke(main, ["import", str(out / custodian["folder"]), "--db", str(database),
                                             "--no-progress"])
        assert imported.exit_code == 0, imported.output
        store_db = open_database(str(database))
        try:
            store = Store(store_db, Model.load(), "http://127.0.0.1:8080/fhir")
            with store.session(write=False) as session:
                for res_type, count in custodian["resources"].items():
                    rows = session.conn.execute(
                        "SELECT count(*) FROM resource WHERE res_type = ? AND NOT deleted", (res_type,))
                    assert rows[0][0] == count, (custodian["folder"], res_type)
                for patient in (r for r in resources(out / custodian["folder"]) if r["resourceType"] == "Patient"):
                    assert session.read("Patient", patient["id"]) is not None
        finally:
            store_db.close()


def test_a_sample_validates_against_r4_and_nl_core(tmp_path: Path, model: Model, nictiz_dir: Path) -> None:
    """300 people (seed 3 has every resource type): no errors from the R4 + nl-core validator."""
    conformance = Conformance()
    load_packages([nictiz_dir], conformance, model)
    validator = Validator(model, conformance, Terminology(conformance))
    out = tmp_path / "out"
    CliRunner().invoke(main, ["synth", "--people", "300", "--seed", "3", "--out", str(out), "--no-progress",
                              "--workers", "1"])
    checked: Counter[str] = Counter()
    problems = []
    for custodian in manifest(out)["custodians"]:
        for resource in resources(out / custodian["folder"]):
            checked[resource["resourceType"]] += 1
            problems += [(resource["resourceType"], resource["id"], issue.expression, issue.diagnostics)
                         for issue in validator.validate(resource) if issue.severity in ("error", "fatal")]
    assert not problems, problems[:10]
    assert set(checked) >= {"Patient", "Condition", "Observation", "Encounter", "MedicationRequest",
                            "MedicationDispense", "MedicationStatement", "AllergyIntolerance", "Immunization",
                            "Procedure", "Consent", "Flag", "Organization", "Location", "HealthcareService",
                            "Practitioner", "PractitionerRole"}
