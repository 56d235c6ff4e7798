"""Writing a generated population: one folder per custodian, a manifest, ndjson or Bundles.

Resources arrive per chunk of people as ready ndjson lines grouped by custodian and resource type;
they are appended to ``DIR/<custodian>/<Type>.ndjson`` in chunk order, so memory stays bounded by one
chunk and the bytes do not depend on how the work was split. ``--format bundle`` then turns each
custodian's files into transaction Bundles of ``PUT Type/id`` entries (ids kept, references intact),
:data:`BUNDLE_ENTRIES` to a file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

BUNDLE_ENTRIES = 1000
MANIFEST = "manifest.json"
Lines = dict[tuple[str, str], bytearray]  # (custodian folder, resource type) -> ndjson lines


class FolderWriter:
    """Appends ndjson lines per custodian folder and resource type, and counts them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counts: dict[str, Counter[str]] = {}

    def write(self, lines: Lines) -> None:
        for (folder, res_type), data in sorted(lines.items()):
            directory = self.root / folder
            if folder not in self.counts:
                directory.mkdir(parents=True, exist_ok=True)
                self.counts[folder] = Counter()
            with open(directory / f"{res_type}.ndjson", "ab") as handle:
                handle.write(data)
            self.counts[folder][res_type] += data.count(b"\n")


def to_bundles(folder: Path) -> None:
    """Replace a custodian's ndjson files with transaction Bundles of PUT entries (same resources)."""
    for source in sorted(folder.glob("*.ndjson")):
        batch: list[bytes] = []
        number = 0
        with open(source, "rb") as handle:
            for line in handle:
                batch.append(_entry(source.stem, line.rstrip(b"\n")))
                if len(batch) == BUNDLE_ENTRIES:
                    number += 1
                    _write_bundle(folder / f"{source.stem}-{number:05d}.json", batch)
                    batch = []
        if batch:
            _write_bundle(folder / f"{source.stem}-{number + 1:05d}.json", batch)
        source.unlink()


def _entry(res_type: str, resource: bytes) -> bytes:
    res_id = orjson.loads(resource)["id"]
    request = orjson.dumps({"method": "PUT", "url": f"{res_type}/{res_id}"})
    return b'{"resource":' + resource + b',"request":' + request + b"}"


def _write_bundle(path: Path, entries: list[bytes]) -> None:
    path.write_bytes(b'{"resourceType":"Bundle","type":"transaction","entry":[' + b",".join(entries) + b"]}\n")


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    (root / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
