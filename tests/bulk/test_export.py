"""Bulk Data $export over HTTP: kick-off, status, download, parameters, levels, errors, recovery."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from bulkdata import ASYNC, FHIR_JSON, download, export, finish_exports, ids, kick_off, transaction, wait_for
from serving import served_node

from samen.bulk.export import IN_PROGRESS, MAX_ATTEMPTS, process_space
from samen.fhir.model import Model
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.node import Node


def patient(pid: str, family: str = "Jansen") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family}], "gender": "female"}


def observation(oid: str, subject: str, value: float = 72) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def organization(oid: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": oid, "name": f"Praktijk {oid}"}


def group(gid: str, *members: str, inactive: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": gid,
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{m}"}} for m in members]
        + [{"entity": {"reference": f"Patient/{m}"}, "inactive": True} for m in inactive],
    }


@pytest.fixture
def data(fhir: httpx.Client) -> None:
    transaction(
        fhir,
        [
            patient("p1"), patient("p2", "de Vries"), patient("p3", "Bakker"),
            observation("o1", "Patient/p1"), observation("o2", "Patient/p2"), observation("o3", "Patient/p3"),
            observation("o4", "Patient/p1", 80),
            organization("org1"),
        ],
    )


# -- the async pattern ---------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_system_export_kick_off_poll_and_download(fhir: httpx.Client, node: Node, bulk_dir: Path) -> None:
    before = now_ms()
    response = kick_off(fhir)
    assert response.status_code == 202
    status_url = response.headers["Content-Location"]
    assert status_url.startswith(node.settings.base_url + "/$export-status?job=")
    done = wait_for(fhir, status_url)
    assert done.status_code == 200
    assert done.headers["Content-Type"].startswith("application/json")
    manifest = done.json()
    assert manifest["request"] == node.settings.base_url + "/$export"
    assert manifest["requiresAccessToken"] is False
    assert manifest["error"] == []
    assert manifest["transactionTime"] >= ms_to_instant(before)
    outputs = {o["type"]: o for o in manifest["output"]}
    assert set(outputs) == {"Patient", "Observation", "Organization"}
    assert outputs["Patient"]["count"] == 3 and outputs["Observation"]["count"] == 4
    for output in outputs.values():
        assert output["url"].startswith(node.settings.base_url + "/$export-file?job=")
    files = download(fhir, manifest)
    assert ids(files["Patient"]) == {"p1", "p2", "p3"}
    assert ids(files["Observation"]) == {"o1", "o2", "o3", "o4"}
    stored = fhir.get("Patient/p2").json()
    assert next(p for p in files["Patient"] if p["id"] == "p2") == stored
    job_id = status_url.rsplit("=", 1)[1]
    assert sorted(p.name for p in (bulk_dir / job_id).iterdir()) == [
        "Observation.ndjson", "Organization.ndjson", "Patient.ndjson"
    ]
    assert fhir.get(status_url).status_code == 200  # the manifest stays until the job is deleted


def test_export_of_an_empty_node_has_no_output(fhir: httpx.Client) -> None:
    manifest = export(fhir)
    assert manifest["output"] == []


@pytest.mark.usefixtures("data")
def test_post_kick_off_with_parameters(fhir: httpx.Client, node: Node) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Observation"},
            {"name": "_outputFormat", "valueString": "application/fhir+ndjson"},
        ],
    }
    response = fhir.post("$export", json=body, headers={**ASYNC, "Content-Type": FHIR_JSON})
    assert response.status_code == 202, response.text
    manifest = wait_for(fhir, response.headers["Content-Location"]).json()
    assert manifest["request"] == node.settings.base_url + "/$export"
    assert [o["type"] for o in manifest["output"]] == ["Observation"]


@pytest.mark.usefixtures("data")
def test_delete_cancels_and_removes_files(fhir: httpx.Client, bulk_dir: Path) -> None:
    response = kick_off(fhir)
    status_url = response.headers["Content-Location"]
    manifest = wait_for(fhir, status_url).json()
    job_id = status_url.rsplit("=", 1)[1]
    assert (bulk_dir / job_id).is_dir()
    deleted = fhir.delete(status_url)
    assert deleted.status_code == 202
    assert fhir.get(status_url).status_code == 404
    assert fhir.get(manifest["output"][0]["url"]).status_code == 404
    assert not (bulk_dir / job_id).exists()
    assert fhir.delete(status_url).status_code == 404


def test_running_job_reports_progress_and_can_be_cancelled(fhir: httpx.Client, node: Node) -> None:
    """A job held by a live runner elsewhere: 202 + X-Progress; DELETE marks it cancelled (404 from then on)."""
    owner = f"{process_space()}:{os.getpid()}:elsewhere"
    job_id = insert_job(node, owner=owner, beat=now_ms(), text="Observation: 1000 written")
    status_url = f"$export-status?job={job_id}"
    response = fhir.get(status_url)
    assert response.status_code == 202
    assert response.headers["X-Progress"] == "Observation: 1000 written"
    assert response.headers["Retry-After"]
    assert fhir.delete(status_url).status_code == 202
    assert fhir.get(status_url).status_code == 404


# -- parameters ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_type_parameter_limits_the_types(fhir: httpx.Client) -> None:
    manifest = export(fhir, _type="Patient,Organization")
    assert sorted(o["type"] for o in manifest["output"]) == ["Organization", "Patient"]
    assert manifest["request"].endswith("$export?_type=Patient%2COrganization")


@pytest.mark.usefixtures("data")
def test_since_parameter_only_exports_later_changes(fhir: httpx.Client) -> None:
    first = export(fhir)
    time.sleep(0.01)
    transaction(fhir, [patient("p2", "Veranderd"), patient("p9", "Nieuw")])
    manifest = export(fhir, _since=first["transactionTime"])
    files = download(fhir, manifest)
    assert set(files) == {"Patient"}
    assert ids(files["Patient"]) == {"p2", "p9"}
    assert next(p for p in files["Patient"] if p["id"] == "p2")["name"][0]["family"] == "Veranderd"


@pytest.mark.usefixtures("data")
def test_deleted_resources_are_not_exported(fhir: httpx.Client) -> None:
    assert fhir.delete("Observation/o2").status_code in (200, 204)
    files = download(fhir, export(fhir, _type="Observation"))
    assert ids(files["Observation"]) == {"o1", "o3", "o4"}


# -- Patient and Group level ---------------------------------------------------------------------


@pytest.mark.usefixtures("data")
def test_patient_level_exports_the_patient_compartments(fhir: httpx.Client) -> None:
    transaction(fhir, [observation("o-orphan", "Location/l1")])  # in no Patient's compartment
    manifest = export(fhir, "Patient/$export")
    files = download(fhir, manifest)
    assert set(files) == {"Patient", "Observation"}  # Organization is in no Patient compartment
    assert ids(files["Patient"]) == {"p1", "p2", "p3"}
    assert ids(files["Observation"]) == {"o1", "o2", "o3", "o4"}


@pytest.mark.usefixtures("data")
def test_group_level_exports_the_members_compartments(fhir: httpx.Client, node: Node) -> None:
    base = node.settings.base_url
    g = group("g1", "p1", inactive=("p3",))
    g["member"].append({"entity": {"reference": f"{base}/Patient/p2"}})  # absolute on this node
    g["member"].append({"entity": {"reference": "http://elders.example/fhir/Patient/p3"}})  # another server
    transaction(fhir, [g])
    response = kick_off(fhir, "Group/g1/$export")
    assert response.status_code == 202
    manifest = wait_for(fhir, response.headers["Content-Location"]).json()
    assert manifest["request"] == f"{base}/Group/g1/$export"
    files = download(fhir, manifest)
    assert ids(files["Patient"]) == {"p1", "p2"}
    assert ids(files["Observation"]) == {"o1", "o2", "o4"}
    assert ids(files["Group"]) == {"g1"}  # Group is in its members' compartments (member)
    assert "Organization" not in files
    typed = download(fhir, export(fhir, "Group/g1/$export", _type="Observation"))
    assert set(typed) == {"Observation"}


# -- errors --------------------------------------------------------------------------------------


def test_kick_off_without_respond_async_is_400(fhir: httpx.Client) -> None:
    response = fhir.get("$export")
    assert response.status_code == 400
    assert "respond-async" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "params",
    [
        {"_outputFormat": "application/fhir+json"},
        {"_outputFormat": "text/csv"},
        {"_type": "Patient,NoSuchType"},
        {"_since": "yesterday"},
        {"_typeFilter": "Observation?status=final"},
    ],
)
def test_bad_kick_off_parameters_are_400(fhir: httpx.Client, params: dict[str, str]) -> None:
    response = kick_off(fhir, **params)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_output_format_variants_are_accepted(fhir: httpx.Client) -> None:
    for value in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        assert kick_off(fhir, _outputFormat=value).status_code == 202


def test_patient_export_rejects_types_outside_the_compartment(fhir: httpx.Client) -> None:
    assert kick_off(fhir, "Patient/$export", _type="Organization").status_code == 400


def test_group_export_of_unknown_group_is_404_and_leaves_no_job(fhir: httpx.Client, node: Node) -> None:
    assert kick_off(fhir, "Group/nobody/$export").status_code == 404
    with node.store.session(write=False) as session:
        assert session.conn.execute("SELECT count(*) FROM bulk_job")[0][0] == 0


def test_unknown_job_and_file_are_404(fhir: httpx.Client) -> None:
    assert fhir.get("$export-status", params={"job": "no-such-job"}).status_code == 404
    assert fhir.delete("$export-status", params={"job": "no-such-job"}).status_code == 404
    assert fhir.get("$export-file", params={"job": "no-such-job", "file": "Patient.ndjson"}).status_code == 404
    assert fhir.get("$export-status").status_code == 400


@pytest.mark.usefixtures("data")
def test_files_outside_the_manifest_are_404(fhir: httpx.Client) -> None:
    response = kick_off(fhir, _type="Patient")
    status_url = response.headers["Content-Location"]
    wait_for(fhir, status_url)
    job_id = status_url.rsplit("=", 1)[1]
    for name in ("Observation.ndjson", "../node.db", "Patient.ndjson.part"):
        assert fhir.get("$export-file", params={"job": job_id, "file": name}).status_code == 404


def test_instance_level_export_is_not_an_operation(fhir: httpx.Client) -> None:
    assert kick_off(fhir, "Patient/p1/$export").status_code == 404


# -- jobs across processes and restarts ----------------------------------------------------------


def insert_job(
    node: Node, *, owner: str, beat: int, text: str = "", transaction_ms: int | None = None, group: str | None = None,
    attempt: int = 1,
) -> str:
    """A job row as a runner in some other process would have left it."""
    job_id = f"job-{now_ms()}-{os.getpid()}"
    base = node.settings.base_url
    path = f"Group/{group}/$export" if group else "$export"
    request = {"level": "group" if group else "system", "url": f"{base}/{path}", "base_url": base, "types": [],
               "since_ms": None, "group_id": group}
    progress = orjson.dumps({"owner": owner, "run": "r0", "attempt": attempt, "beat": beat, "text": text}).decode()
    with node.store.session() as session:
        session.conn.execute(
            "INSERT INTO bulk_job (job_id, status, request, created_ms, transaction_ms, progress) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, IN_PROGRESS, orjson.dumps(request).decode(), now_ms(), transaction_ms or now_ms(), progress),
        )
    return job_id


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_job_of_a_crashed_process_is_resumed_at_node_start(
    database_url: str, model: Model, tmp_path: Path
) -> None:
    """Picked up again from the start, with its original transactionTime: the same snapshot."""
    settings = {"bulk_dir": str(tmp_path / "bulk")}
    with served_node(database_url, model, **settings) as first:
        with httpx.Client(base_url=first.settings.base_url + "/", timeout=30) as fhir:
            transaction(fhir, [patient("p1", "Eerst")])
            time.sleep(0.005)
            moment = now_ms()
            time.sleep(0.005)
            transaction(fhir, [patient("p1", "Later"), patient("p2")])
        job_id = insert_job(first, owner=f"{process_space()}:{dead_pid()}:gone", beat=now_ms(),
                            transaction_ms=moment)
        finish_exports(first)
    with served_node(database_url, model, **settings) as second:
        try:
            with httpx.Client(base_url=second.settings.base_url + "/", timeout=30) as fhir:
                done = wait_for(fhir, f"$export-status?job={job_id}")
                assert done.status_code == 200
                manifest = done.json()
                assert manifest["transactionTime"] == ms_to_instant(moment)
                files = download(fhir, manifest)
                assert [(p["id"], p["name"][0]["family"], p["meta"]["versionId"]) for p in files["Patient"]] == [
                    ("p1", "Eerst", "1")
                ]
        finally:
            finish_exports(second)


def test_job_with_a_stale_heartbeat_is_taken_over_when_polled(fhir: httpx.Client, node: Node) -> None:
    transaction(fhir, [patient("p1")])
    owner = f"{process_space()}:{os.getpid()}:hung"  # alive, but silent for ten minutes
    job_id = insert_job(node, owner=owner, beat=now_ms() - 600_000)
    done = wait_for(fhir, f"$export-status?job={job_id}")
    assert done.status_code == 200
    assert [o["type"] for o in done.json()["output"]] == ["Patient"]


def test_status_is_shared_by_nodes_on_one_database(
    fhir: httpx.Client, node: Node, database_url: str, model: Model, bulk_dir: Path
) -> None:
    """A second node process on the same database (another worker) sees the job and its files."""
    transaction(fhir, [patient("p1")])
    status_url = kick_off(fhir).headers["Content-Location"]
    wait_for(fhir, status_url)
    with served_node(database_url, model, bulk_dir=str(bulk_dir)) as other:
        with httpx.Client(base_url=other.settings.base_url + "/", timeout=30) as client:
            job = status_url.split("?", 1)[1]
            manifest = client.get(f"$export-status?{job}").json()
            assert [o["count"] for o in manifest["output"]] == [1]
            file_url = manifest["output"][0]["url"].replace(node.settings.base_url, other.settings.base_url)
            assert client.get(file_url).status_code == 200


def test_failed_job_reports_500_with_operation_outcome(fhir: httpx.Client, node: Node) -> None:
    """A Group export whose Group is gone by the time the job runs."""
    owner = f"{process_space()}:{dead_pid()}:gone"
    job_id = insert_job(node, owner=owner, beat=now_ms(), group="vanished")
    done = wait_for(fhir, f"$export-status?job={job_id}")
    assert done.status_code == 500
    issue = done.json()["issue"][0]
    assert issue["code"] == "exception" and "Group/vanished" in issue["diagnostics"]
    assert fhir.delete(f"$export-status?job={job_id}").status_code == 202
    assert fhir.get(f"$export-status?job={job_id}").status_code == 404


def test_job_whose_runners_keep_dying_is_given_up(fhir: httpx.Client, node: Node) -> None:
    job_id = insert_job(node, owner=f"{process_space()}:{dead_pid()}:gone", beat=now_ms(), attempt=MAX_ATTEMPTS)
    done = wait_for(fhir, f"$export-status?job={job_id}")
    assert done.status_code == 500
    assert "interrupted" in done.json()["issue"][0]["diagnostics"]
