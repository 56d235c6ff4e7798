"""Helpers for the bulk data tests: transactions, export kick-off/poll/download."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from samen.bulk.operations import exporter_for
from samen.node import Node

FHIR_JSON = "application/fhir+json"
ASYNC = {"Prefer": "respond-async", "Accept": FHIR_JSON}

# -- helpers -------------------------------------------------------------------------------------


def transaction(fhir: httpx.Client, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PUT every resource (ids given) in one transaction; returns what was stored."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
        ],
    }
    response = fhir.post("", json=bundle, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json()["entry"]]


def kick_off(fhir: httpx.Client, path: str = "$export", **params: str) -> httpx.Response:
    return fhir.get(path, params=params, headers=ASYNC)


def wait_for(fhir: httpx.Client, status_url: str, timeout: float = 60) -> httpx.Response:
    """Poll the status URL until the job is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        response = fhir.get(status_url)
        if response.status_code != 202:
            return response
        assert "X-Progress" in response.headers
        if time.monotonic() > deadline:
            raise AssertionError(f"export still running after {timeout} s: {response.headers['X-Progress']}")
        time.sleep(0.05)


def export(fhir: httpx.Client, path: str = "$export", **params: str) -> dict[str, Any]:
    """Kick off, wait, and return the manifest."""
    response = kick_off(fhir, path, **params)
    assert response.status_code == 202, response.text
    done = wait_for(fhir, response.headers["Content-Location"])
    assert done.status_code == 200, done.text
    return done.json()


def download(fhir: httpx.Client, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every output file of a manifest, parsed, by resource type."""
    files: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        response = fhir.get(output["url"], headers={"Accept": "application/fhir+ndjson"})
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
        assert len(lines) == output["count"]
        files.setdefault(output["type"], []).extend(lines)
    return files


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in resources}


def finish_exports(node: Node) -> None:
    """Let the node's export threads end before its database is closed."""
    exporter = exporter_for(node.router)
    if exporter is not None:
        exporter.wait(30)
