"""Benchmark data from the sample generator (:mod:`samen.sample`), written once per size to bench/results/data/.

``samen.sample.sample_bundle`` makes at most 5,000 patients per call (its BSNs come from the 9999 test
range), so N > 5,000 patients are made as several bundles with seeds 1, 2, ...; BSNs may repeat
between those bundles. For every size this writes:

- ``bundle-<seed>.json``: the transaction Bundles as generated (for the bundle-ingest measurement);
- ``ndjson/<Type>.ndjson``: the same resources with ids taken from their ``urn:uuid:`` fullUrls and
  references rewritten to ``Type/id`` (for ``samen import``);
- ``facts.json``: ids and values the read and search benchmarks draw their parameters from.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from samen.sample import MAX_PATIENTS, sample_bundle


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def prepare(folder: Path, patients: int) -> dict[str, Any]:
    """Make (or reuse) the data for ``patients`` patients in ``folder``; returns facts.json's content."""
    facts_path = folder / "facts.json"
    if facts_path.exists():
        return json.loads(facts_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ndjson").mkdir(exist_ok=True)
    started = time.monotonic()
    bundles = []
    left, seed = patients, 1
    while left > 0:
        count = min(left, MAX_PATIENTS)
        bundles.append(sample_bundle(count, seed=seed))
        left -= count
        seed += 1
    generate_s = time.monotonic() - started

    by_type: dict[str, list[dict]] = defaultdict(list)
    for seed, bundle in enumerate(bundles, 1):
        (folder / f"bundle-{seed}.json").write_bytes(orjson.dumps(bundle))
        ids = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['fullUrl'].rsplit(':', 1)[1]}" for e in bundle["entry"]}
        for entry in bundle["entry"]:
            resource = _rewrite(entry["resource"], ids)
            resource["id"] = entry["fullUrl"].rsplit(":", 1)[1]
            by_type[resource["resourceType"]].append(resource)
    for res_type, resources in by_type.items():
        with open(folder / "ndjson" / f"{res_type}.ndjson", "wb") as handle:
            for resource in resources:
                handle.write(orjson.dumps(resource) + b"\n")

    facts = {
        "patients": patients,
        "generate_s": generate_s,
        "resources": {t: len(r) for t, r in by_type.items()},
        "patient": [
            {"id": p["id"], "bsn": p["identifier"][0]["value"], "family": p["name"][0]["family"],
             "given": p["name"][0]["given"][0], "birthDate": p["birthDate"], "gender": p["gender"],
             "city": p["address"][0]["city"], "postalCode": p["address"][0]["postalCode"]}
            for p in by_type["Patient"]
        ],
        "observation": [
            {"id": o["id"], "patient": o["subject"]["reference"].split("/")[1], "code": o["code"]["coding"][0]["code"],
             "date": o["effectiveDateTime"]}
            for o in by_type["Observation"]
        ],
        "condition": [{"id": c["id"], "code": c["code"]["coding"][0]["code"]} for c in by_type["Condition"]],
        "encounter": [{"id": e["id"], "start": e["period"]["start"]} for e in by_type["Encounter"]],
        "practitioner": [{"id": p["id"], "uzi": p["identifier"][0]["value"]} for p in by_type["Practitioner"]],
        "organization": [{"id": o["id"], "name": o["name"]} for o in by_type["Organization"]],
    }
    facts_path.write_text(json.dumps(facts))
    return facts
