"""Shared generated populations for the synth tests (made once per session: generation is deterministic)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from samen.synth.run import SynthOptions, generate

SMALL = SynthOptions(people=300, seed=7, region="Rotterdam-Rijnmond", workers=1)


@pytest.fixture(scope="session")
def small_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 people in Rotterdam-Rijnmond as ndjson, one folder per custodian."""
    out = tmp_path_factory.mktemp("synth") / "out"
    generate(SynthOptions(**{**SMALL.__dict__, "out": out}))
    return out


def manifest(root: Path) -> dict[str, Any]:
    return orjson.loads((root / "manifest.json").read_bytes())


def resources(folder: Path) -> Iterator[dict[str, Any]]:
    """Every resource of a custodian folder (ndjson or Bundles)."""
    for path in sorted(folder.iterdir()):
        if path.suffix == ".ndjson":
            yield from (orjson.loads(line) for line in path.read_bytes().splitlines())
        elif path.suffix == ".json":
            yield from (entry["resource"] for entry in orjson.loads(path.read_bytes())["entry"])


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
