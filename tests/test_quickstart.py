"""samen quickstart: deterministic synthetic sample data, loaded once, and example requests that really work."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from click.testing import CliRunner
from serving import free_port, served_node

from samen.cli import main
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import AGB, BSN, SYNTHETIC_TAG, URA, elfproef, sample_bundle
from samen.settings import Settings

OWN_PREFIX = "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix"
OWN_NAME = "http://hl7.org/fhir/StructureDefinition/humanname-own-name"


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def _of_type(bundle: dict[str, Any], res_type: str) -> list[dict[str, Any]]:
    return [r for r in _resources(bundle) if r["resourceType"] == res_type]


# -- the sample bundle ----------------------------------------------------------------------


def test_bundle_is_deterministic_for_a_seed() -> None:
    assert orjson.dumps(sample_bundle(25, 1)) == orjson.dumps(sample_bundle(25, 1))
    assert sample_bundle(25, 1) != sample_bundle(25, 2)
    assert len(_of_type(sample_bundle(7, 3), "Patient")) == 7


def test_elfproef() -> None:
    assert elfproef("999911120") and elfproef("123456782")
    assert not elfproef("123456789") and not elfproef("000000000") and not elfproef("12345678")


def test_every_bsn_passes_the_elfproef_and_is_unique() -> None:
    for seed in range(1, 6):
        bsns = [i["value"] for p in _of_type(sample_bundle(200, seed), "Patient") for i in p["identifier"]
                if i["system"] == BSN]
        assert len(bsns) == 200 and len(set(bsns)) == 200
        assert all(elfproef(bsn) for bsn in bsns), [bsn for bsn in bsns if not elfproef(bsn)]


def test_every_resource_carries_the_synthetic_tag() -> None:
    for resource in _resources(sample_bundle(25, 1)):
        assert SYNTHETIC_TAG in resource["meta"]["tag"], resource["resourceType"]


def test_bundle_is_a_transaction_with_internal_urn_uuid_references() -> None:
    bundle = sample_bundle(25, 1)
    assert bundle["type"] == "transaction"
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert all(url.startswith("urn:uuid:") for url in full_urls) and len(set(full_urls)) == len(full_urls)
    references = re.findall(rb'"reference":"([^"]+)"', orjson.dumps(bundle))
    assert references and {ref.decode() for ref in references} <= set(full_urls)
    counts = Counter(r["resourceType"] for r in _resources(bundle))
    assert counts["Organization"] == 2 and counts["Practitioner"] == 3 and counts["Patient"] == 25
    for res_type in ("Condition", "Observation", "AllergyIntolerance", "MedicationRequest", "Encounter"):
        assert counts[res_type] >= 25, res_type


def test_dutch_shapes() -> None:
    bundle = sample_bundle(25, 1)
    for patient in _of_type(bundle, "Patient"):
        name = patient["name"][0]
        parts = {e["url"]: e["valueString"] for e in name["_family"]["extension"]}
        assert name["family"] == f"{parts.get(OWN_PREFIX, '')} {parts[OWN_NAME]}".strip()
        address = patient["address"][0]
        assert re.fullmatch(r"[1-9]\d{3} [A-Z]{2}", address["postalCode"]) and address["country"] == "NL"
        assert address["city"] and address["line"]
        assert patient["gender"] in ("female", "male") and re.fullmatch(r"\d{4}-\d\d-\d\d", patient["birthDate"])
    assert any(OWN_PREFIX in str(p["name"]) for p in _of_type(bundle, "Patient"))
    for organisation in _of_type(bundle, "Organization"):
        systems = {i["system"]: i["value"] for i in organisation["identifier"]}
        assert re.fullmatch(r"\d{8}", systems[URA]) and re.fullmatch(r"\d{8}", systems[AGB])
    for observation in _of_type(bundle, "Observation"):
        assert observation["effectiveDateTime"] and observation["code"]["coding"][0]["system"] == "http://loinc.org"
        if observation["code"]["coding"][0]["code"] == "85354-9":
            codes = [c["code"]["coding"][0]["code"] for c in observation["component"]]
            assert codes == ["8480-6", "8462-4"]
            assert all(c["valueQuantity"]["code"] == "mm[Hg]" for c in observation["component"])


# -- the command ----------------------------------------------------------------------------


def _stored_counts(database_url: str, model: Model) -> Counter[str]:
    node = Node.open(database_url, Settings(), model)
    try:
        with node.store.session(write=False) as session:
            rows = session.conn.execute("SELECT res_type, COUNT(*) FROM resource GROUP BY res_type")
    finally:
        node.close()
    return Counter({res_type: int(count) for res_type, count in rows})


def test_quickstart_loads_the_sample_data_once(database_url: str, model: Model) -> None:
    args = ["quickstart", "--no-serve", "--db", database_url, "--patients", "5", "--seed", "7"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    expected = Counter(r["resourceType"] for r in _resources(sample_bundle(5, 7)))
    assert f"Loaded {expected.total()} synthetic resources" in first.stdout
    assert _stored_counts(database_url, model) == expected

    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "nothing loaded" in second.stdout
    assert _stored_counts(database_url, model) == expected


def _run(command: str) -> tuple[int, bytes]:
    """Run one printed curl command as it is; without curl on PATH, the same request through httpx."""
    args = shlex.split(command)
    assert args[0] == "curl"
    if shutil.which("curl"):
        done = subprocess.run([*args, "--noproxy", "*", "-w", "\n%{http_code}"], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body
    method, headers, data, url = "GET", {}, None, None
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(":")
            headers[name] = value.strip()
        elif arg == "-d":
            data, method = next(rest), "POST" if method == "GET" else method
        elif not arg.startswith("-"):
            url = arg
    response = httpx.request(method, url or "", headers=headers, content=data, timeout=60, trust_env=False)
    return response.status_code, response.content


def test_every_printed_example_works_over_http(database_url: str, model: Model) -> None:
    with served_node(database_url, model) as node:
        port = urlsplit(node.settings.base_url).port
        result = CliRunner().invoke(main, ["quickstart", "--no-serve", "--db", database_url, "--port", str(port)])
        assert result.exit_code == 0, result.output
        assert f"FHIR base URL: {node.settings.base_url}\n" in result.stdout
        commands = [line for line in result.stdout.splitlines() if line.startswith("curl ")]
        assert len(commands) >= 6
        for command in commands:
            assert node.settings.base_url + "/" in command
            status, body = _run(command)
            assert 200 <= status < 300, (command, status, body)
            answer = orjson.loads(body)
            assert answer["resourceType"] != "OperationOutcome", (command, answer)
            if answer["resourceType"] == "Bundle":
                assert answer.get("entry"), f"no results for: {command}"
                _check_search(command, answer)
            if " POST " in command:
                assert status == 201 and answer["id"]


def _check_search(command: str, bundle: dict[str, Any]) -> None:
    """The results show what the example says they show."""
    matches = [e["resource"] for e in bundle["entry"] if e.get("search", {}).get("mode", "match") == "match"]
    if "identifier=" in command:
        bsn = command.split("|")[-1].rstrip("'")
        assert [[i["value"] for i in p["identifier"] if i["system"] == BSN] for p in matches] == [[bsn]]
    if "_sort=-date" in command:
        dates = [o["effectiveDateTime"] for o in matches]
        assert len(dates) >= 2 and dates == sorted(dates, reverse=True)
    if "_include=" in command:
        included = [e["resource"]["resourceType"] for e in bundle["entry"]
                    if e.get("search", {}).get("mode") == "include"]
        assert "Practitioner" in included


def test_quickstart_serves_what_it_printed(tmp_path: Path) -> None:
    """The real command, as a new user runs it: it loads, prints, and then answers on the printed base URL."""
    port = free_port()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = [sys.executable, "-c", "from samen.cli import main; main()", "quickstart",
               "--db", str(tmp_path / "quickstart.db"), "--port", str(port), "--patients", "3"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    try:
        base_url = f"http://127.0.0.1:{port}/fhir"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"quickstart exited ({process.returncode}): {err.read_text()[-600:]}"
            assert time.monotonic() < deadline, "quickstart did not start serving"
            try:
                if httpx.get(f"{base_url}/metadata", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert f"FHIR base URL: {base_url}\n" in out.read_text()
        printed = out.read_text().splitlines()
        by_bsn = next(line for line in printed if line.startswith("curl ") and "identifier=" in line)
        status, body = _run(by_bsn)
        assert status == 200 and orjson.loads(body)["entry"]
    finally:
        process.terminate()
        process.wait(timeout=30)
