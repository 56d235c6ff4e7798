"""Using the output: `samen synth --help`, the CLI run, import into a node, validation against R4 + nl-core."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import manifest, resources
from serving import served_node

from samen.cli import main
from samen.fhir.conformance import Conformance
from samen.fhir.conformance.loading import load_packages
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator
from samen.synth.fhir import BSN


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


def test_cli_says_plainly_when_it_cannot_write_the_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "out"
    result = CliRunner().invoke(main, ["synth", "--people", "5", "--out", str(out), "--no-progress", "--workers", "1"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"cannot write {out}" in result.output


@pytest.mark.parametrize("output_format", ["ndjson", "bundle"])
def test_custodian_folders_import_into_a_node(tmp_path: Path, output_format: str, model: Model) -> None:
    """Each custodian's folder loads into its own node with `samen import`; the node serves it, ids kept."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["synth", "--people", "120", "--seed", "5", "--out", str(out),
                                       "--format", output_format, "--no-progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    for custodian in manifest(out)["custodians"]:
        database = str(tmp_path / f"{custodian['folder']}.db")
        imported = CliRunner().invoke(main, ["import", str(out / custodian["folder"]), "--db", database,
                                             "--no-progress"])
        assert imported.exit_code == 0, imported.output
        with served_node(database, model) as node, httpx.Client(base_url=node.settings.base_url) as client:
            for res_type, count in custodian["resources"].items():
                found = client.get(f"/{res_type}", params={"_summary": "count", "_total": "accurate"}).json()
                assert found["total"] == count, (custodian["folder"], res_type)
            for patient in (r for r in resources(out / custodian["folder"]) if r["resourceType"] == "Patient"):
                bsn = patient["identifier"][0]["value"]
                by_bsn = client.get("/Patient", params={"identifier": f"{BSN}|{bsn}"}).json()
                assert [e["resource"]["id"] for e in by_bsn["entry"]] == [patient["id"]]
                break


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
