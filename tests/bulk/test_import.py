"""`samen import`: ndjson and Bundles, all-or-nothing per file, resume; export -> import round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from bulkdata import download, export, transaction
from click.testing import CliRunner, Result
from serving import served_node

from samen.cli import main
from samen.fhir.model import Model
from samen.store.db import open_database
from samen.store.store import Store

BASE = "http://127.0.0.1:8080/fhir"
NEW_PATIENT = "urn:uuid:0c3b8a4e-0000-4000-8000-000000000001"


def run_import(database_url: str, *paths: Path, extra: tuple[str, ...] = ()) -> Result:
    args = ["import", *map(str, paths), "--db", database_url, "--base-url", BASE, "--no-progress", *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def patients(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": f"{prefix}{i}", "name": [{"family": f"Familie{i}"}], "gender": "male"}
        for i in range(n)
    ]


def observations(prefix: str, n: int, subject_prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Observation",
            "id": f"{prefix}{i}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{subject_prefix}{i}"},
            "valueQuantity": {"value": 60 + i, "unit": "/min"},
        }
        for i in range(n)
    ]


def read_all(database_url: str, model: Model) -> dict[tuple[str, str], dict[str, Any]]:
    """Every current (not deleted) resource in the database, by (type, id)."""
    database = open_database(database_url)
    try:
        with Store(database, model).session(write=False) as session:
            rows = session.conn.execute(
                "SELECT r.res_type, r.res_id, v.content FROM resource r "
                "JOIN resource_version v ON v.rid = r.rid AND v.version = r.version WHERE r.deleted = 0"
            )
    finally:
        database.close()
    return {(res_type, res_id): orjson.loads(bytes(content)) for res_type, res_id, content in rows}


def without_version(resource: dict[str, Any]) -> dict[str, Any]:
    copy = dict(resource)
    meta = {k: v for k, v in (copy.pop("meta", None) or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        copy["meta"] = meta
    return copy


# -- ndjson and bundles --------------------------------------------------------------------------


def test_import_ndjson_keeps_ids(database_url: str, model: Model, tmp_path: Path) -> None:
    no_id = {"resourceType": "Patient", "gender": "male"}
    source = write_ndjson(tmp_path / "Patient.ndjson", [*patients("p", 5), no_id])
    write_ndjson(tmp_path / "Observation.ndjson", observations("o", 5, "p"))
    result = run_import(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "imported 11 resources from 2 file(s)" in result.output
    assert source.exists()
    stored = read_all(database_url, model)
    assert {k for k in stored if k[0] == "Observation"} == {("Observation", f"o{i}") for i in range(5)}
    assert len([k for k in stored if k[0] == "Patient"]) == 6  # the one without id got a new one
    assert stored[("Patient", "p3")]["meta"]["versionId"] == "1"
    with served_node(database_url, model) as node, httpx.Client(base_url=node.settings.base_url + "/") as fhir:
        found = fhir.get("Observation", params={"subject": "Patient/p2"}).json()  # the index was written too
        assert [e["resource"]["id"] for e in found["entry"]] == ["o2"]
        assert fhir.get("Patient", params={"family": "Familie4"}).json()["total"] == 1


def test_import_updates_existing_resources(database_url: str, model: Model, tmp_path: Path) -> None:
    write_ndjson(tmp_path / "a.ndjson", patients("p", 3))
    assert run_import(database_url, tmp_path / "a.ndjson").exit_code == 0
    changed = patients("p", 3)
    changed[1]["gender"] = "female"
    changed.append({**changed[1], "name": [{"family": "Tweemaal"}]})  # the same id twice in one file
    write_ndjson(tmp_path / "b.ndjson", changed)
    assert run_import(database_url, tmp_path / "b.ndjson").exit_code == 0
    stored = read_all(database_url, model)
    assert stored[("Patient", "p0")]["meta"]["versionId"] == "2"
    assert stored[("Patient", "p1")]["meta"]["versionId"] == "3"
    assert stored[("Patient", "p1")]["name"][0]["family"] == "Tweemaal"
    assert stored[("Patient", "p1")]["gender"] == "female"
    with served_node(database_url, model) as node, httpx.Client(base_url=node.settings.base_url + "/") as fhir:
        assert fhir.get("Patient", params={"family": "Familie1"}).json()["total"] == 0  # old index rows gone
        assert fhir.get("Patient", params={"family": "Tweemaal"}).json()["total"] == 1


def test_import_bundles(database_url: str, model: Model, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": NEW_PATIENT,
             "resource": {"resourceType": "Patient", "name": [{"family": "Nieuw"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": observations("o", 1, "x")[0] | {"subject": {"reference": NEW_PATIENT}},
             "request": {"method": "PUT", "url": "Observation/o0"}},
        ],
    }
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": r, "request": {"method": "PUT", "url": f"Patient/{r['id']}"}} for r in patients("b", 2)],
    }
    (tmp_path / "t.json").write_bytes(orjson.dumps(bundle))
    (tmp_path / "b.json").write_bytes(orjson.dumps(batch))
    result = run_import(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    stored = read_all(database_url, model)
    new_patient = next(r for (t, _), r in stored.items() if t == "Patient" and r["name"][0]["family"] == "Nieuw")
    assert stored[("Observation", "o0")]["subject"]["reference"] == f"Patient/{new_patient['id']}"
    assert ("Patient", "b0") in stored and ("Patient", "b1") in stored


def test_import_bundle_with_conditional_references_and_other_interactions(
    database_url: str, model: Model, tmp_path: Path
) -> None:
    bsn = "http://fhir.nl/fhir/NamingSystem/bsn"
    first = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "identifier": [{"system": bsn, "value": "1"}]},
             "request": {"method": "PUT", "url": "Patient/p1"}},
            {"resource": {"resourceType": "Patient", "id": "gone"},
             "request": {"method": "PUT", "url": "Patient/gone"}},
        ],
    }
    plain = {  # creates only, one conditional reference: the batched path
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": observations("x", 1, "x")[0] | {"subject": {"reference": f"Patient?identifier={bsn}|1"}},
                   "request": {"method": "POST", "url": "Observation"}}],
    }
    other = {  # a conditional create and a delete: the general path
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "identifier": [{"system": bsn, "value": "1"}]},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={bsn}|1"}},
            {"request": {"method": "DELETE", "url": "Patient/gone"}},
        ],
    }
    for name, bundle in (("1.json", first), ("2.json", plain), ("3.json", other)):
        (tmp_path / name).write_bytes(orjson.dumps(bundle))
    result = run_import(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    stored = read_all(database_url, model)
    assert sorted(k for k in stored if k[0] == "Patient") == [("Patient", "p1")]  # no second p1, gone deleted
    observation = next(r for (t, _), r in stored.items() if t == "Observation")
    assert observation["subject"]["reference"] == "Patient/p1"


def test_bundle_conditional_reference_without_a_match_fails_the_file(database_url: str, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": patients("b", 1)[0], "request": {"method": "PUT", "url": "Patient/b0"}},
            {"resource": observations("x", 1, "x")[0] | {"subject": {"reference": "Patient?identifier=none"}},
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    (tmp_path / "b.json").write_bytes(orjson.dumps(bundle))
    result = run_import(database_url, tmp_path / "b.json")
    assert result.exit_code == 1
    assert "Bundle.entry[1]: Conditional reference 'Patient?identifier=none' matches 0 resources" in result.output


# -- all or nothing per file, resume -------------------------------------------------------------


def test_bad_line_rolls_back_only_that_file_and_resume_skips_done_files(
    database_url: str, model: Model, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_ndjson(folder / "1-good.ndjson", patients("g", 4))
    bad_lines = [orjson.dumps(r) for r in patients("bad", 3)]
    bad_lines.insert(2, b'{"resourceType": "Patient", "id": "x", "colour": "blue"}')  # line 3: unknown element
    (folder / "2-bad.ndjson").write_bytes(b"\n".join(bad_lines) + b"\n")
    (folder / "3-broken.ndjson").write_bytes(orjson.dumps(patients("br", 1)[0]) + b"\n{not json\n")
    bad_bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patients("tb", 1)[0], "request": {"method": "PUT", "url": "Patient/tb0"}},
            {"resource": {"resourceType": "Patient", "id": "other"},
             "request": {"method": "PUT", "url": "Patient/mismatch"}},
        ],
    }
    (folder / "4-bad-bundle.json").write_bytes(orjson.dumps(bad_bundle))
    write_ndjson(folder / "5-good.ndjson", observations("o", 2, "g"))

    result = run_import(database_url, folder)
    assert result.exit_code == 1
    assert "2-bad.ndjson: line 3: Unknown element 'colour'" in result.output
    assert "3-broken.ndjson: line 2: not valid JSON" in result.output
    assert "4-bad-bundle.json: Bundle.entry[1]" in result.output
    assert "imported 6 resources from 2 file(s)" in result.output and "3 failed" in result.output
    stored = read_all(database_url, model)
    assert {i for t, i in stored} == {"g0", "g1", "g2", "g3", "o0", "o1"}  # nothing of the failed files

    again = run_import(database_url, folder)
    assert again.exit_code == 1
    assert "2 file(s) skipped" in again.output and "imported 0 resources" in again.output

    write_ndjson(folder / "2-bad.ndjson", patients("bad", 3))  # fixed
    (folder / "3-broken.ndjson").unlink()
    (folder / "4-bad-bundle.json").unlink()
    fixed = run_import(database_url, folder)
    assert fixed.exit_code == 0, fixed.output
    assert "imported 3 resources from 1 file(s)" in fixed.output and "2 file(s) skipped" in fixed.output
    stored = read_all(database_url, model)
    assert stored[("Patient", "g0")]["meta"]["versionId"] == "1"  # not imported twice
    assert ("Patient", "bad2") in stored

    forced = run_import(database_url, folder / "1-good.ndjson", extra=("--force",))
    assert forced.exit_code == 0 and "imported 4 resources" in forced.output
    assert read_all(database_url, model)[("Patient", "g0")]["meta"]["versionId"] == "2"


def test_import_validates_like_a_rest_write(database_url: str, model: Model, tmp_path: Path) -> None:
    invalid = [*patients("v", 2), {"resourceType": "Patient", "id": "v9", "gender": "mannetje"}]
    path = write_ndjson(tmp_path / "invalid.ndjson", invalid)
    refused = run_import(database_url, path)
    assert refused.exit_code == 1
    assert "invalid.ndjson: line 3:" in refused.output and "mannetje" in refused.output
    assert read_all(database_url, model) == {}
    lenient = run_import(database_url, path, extra=("--no-validate",))
    assert lenient.exit_code == 0, lenient.output
    assert read_all(database_url, model)[("Patient", "v9")]["gender"] == "mannetje"


def test_unsupported_file_is_reported(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = run_import(database_url, tmp_path / "notes.txt")
    assert result.exit_code == 1
    assert "not an .ndjson or .json file" in result.output


def test_json_that_is_not_a_batch_or_transaction_is_reported(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_bytes(orjson.dumps(patients("p", 1)[0]))
    result = run_import(database_url, tmp_path / "p.json")
    assert result.exit_code == 1
    assert "batch or transaction Bundle" in result.output


# -- export, then import into an empty node ------------------------------------------------------


def test_export_then_import_reproduces_the_data(
    fhir: httpx.Client, database_url: str, second_database_url: str, model: Model, tmp_path: Path
) -> None:
    resources: list[dict[str, Any]] = [*patients("p", 30), *observations("o", 30, "p")]
    resources += [
        {"resourceType": "Organization", "id": "org1", "name": "Huisartsenpraktijk",
         "meta": {"tag": [{"system": "http://example.org/tags", "code": "test"}]}},
        {"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Dokter", "given": ["Els"]}]},
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
         "code": {"text": "Diabetes mellitus type 2"}, "recordedDate": "2024-02-29"},
    ]
    transaction(fhir, resources)
    transaction(fhir, [{**patients("p", 2)[1], "gender": "female"}])  # a second version
    assert fhir.delete("Observation/o7").status_code in (200, 204)  # a deletion
    files = download(fhir, export(fhir))
    folder = tmp_path / "export"
    folder.mkdir()
    for res_type, lines in files.items():
        write_ndjson(folder / f"{res_type}.ndjson", lines)

    result = run_import(second_database_url, folder)
    assert result.exit_code == 0, result.output

    original = read_all(database_url, model)
    copied = read_all(second_database_url, model)
    assert ("Observation", "o7") not in original
    assert set(copied) == set(original)
    for key, resource in original.items():
        assert without_version(copied[key]) == without_version(resource), key
    assert copied[("Patient", "p1")]["gender"] == "female"
