"""``samen serve --package``: a broken package stops the node before it serves, with the file named."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from samen.asgi import settings_from_env
from samen.cli import main


def profile(name: str, base: str) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition", "url": f"http://example.org/fhir/StructureDefinition/{name}",
        "name": name, "status": "draft", "kind": "resource", "abstract": False, "type": "Patient",
        "baseDefinition": base, "derivation": "constraint",
        "differential": {"element": [{"id": "Patient", "path": "Patient"}]},
    }


def serve_with(tmp_path: Path, files: dict[str, bytes]) -> tuple[int, str]:
    """Run ``samen serve`` on a folder holding ``files`` (or on the file itself when it is a .tgz)."""
    folder = tmp_path / "package"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    tarballs = [folder / name for name in files if name.endswith(".tgz")]
    package = tarballs[0] if tarballs else folder
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "node.db"), "--package", str(package)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"broken.tgz": b"not gzip at all"}, r"broken\.tgz: not a readable npm package"),
        ({"ValueSet-x.xml": b"<ValueSet xmlns='http://hl7.org/fhir'><status value='x'>"},
         r"ValueSet-x\.xml: invalid FHIR XML"),
        ({"orphan.json": orjson.dumps(profile("orphan", "http://example.org/fhir/StructureDefinition/nothing"))},
         r"orphan\.json: .*base definition .*nothing.* is unknown"),
        ({"a.json": orjson.dumps(profile("a", "http://example.org/fhir/StructureDefinition/b")),
          "b.json": orjson.dumps(profile("b", "http://example.org/fhir/StructureDefinition/a"))},
         r"[ab]\.json: cyclic derivation"),
    ],
    ids=["not-gzip", "bad-xml", "unknown-base", "cyclic"],
)
def test_serve_refuses_a_broken_package_with_a_clear_error(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    exit_code, output = serve_with(tmp_path, files)
    assert exit_code == 1, output
    assert output.startswith("Error: ")
    assert "Traceback" not in output
    assert re.search(message, output), output


def test_workers_get_the_packages_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMEN_PACKAGES", os.pathsep.join(["/srv/fhir/zib", "", "/srv/fhir/nl-core.tgz"]))
    assert settings_from_env().packages == (Path("/srv/fhir/zib"), Path("/srv/fhir/nl-core.tgz"))
    monkeypatch.delenv("SAMEN_PACKAGES")
    assert settings_from_env().packages == ()
