"""Structured logs: the per-request access line, and the level that silences it."""

from __future__ import annotations

import orjson
import pytest

from samen import logs


def test_access_line_is_one_json_object(capfd: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", json=True)
    logs.access("GET", "/fhir/Patient", 200, 1.25)
    line = orjson.loads(capfd.readouterr().err.strip())
    assert line["event"] == "request" and line["logger"] == "samen.http"
    assert (line["method"], line["path"], line["status"], line["ms"]) == ("GET", "/fhir/Patient", 200, 1.25)
    assert line["timestamp"].endswith("Z")


def test_access_line_follows_the_log_level(capfd: pytest.CaptureFixture[str]) -> None:
    logs.configure("warning", json=True)
    logs.access("GET", "/fhir/Patient", 200, 1.0)
    assert capfd.readouterr().err == ""
    logs.configure("info", json=True)
