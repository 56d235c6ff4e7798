#!/usr/bin/env python3
"""What validation costs on writes: create throughput with validation off, base R4 only, and base + nl-core.

The payload is a set of Nictiz zib2020 example instances (read from ../shared at run time and
converted from XML): Observations with components (blood pressure, body weight, lab results), a
Condition, an AllergyIntolerance, an Encounter, POSTed round robin by autocannon.

  off       samen serve --no-validate; bodies without meta.profile
  base      samen serve; the same bodies (R4 StructureDefinitions, invariants, required bindings)
  profiles  samen serve --package zib --package nl-core; the bodies with their meta.profile (nl-core)

Each mode runs --repeat times, interleaved (off, base, profiles, off, ...), on a fresh SQLite database;
the report gives medians and the overhead against "off". Results: bench/results/validation-<time>.json.

  .venv/bin/python bench/validation.py --repeat 3 --duration 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (Server, Databases, autocannon, npm_ci, log)

NICTIZ = BENCH.parent.parent / "shared" / "fhir" / "nictiz-r4-zib2020"
EXAMPLES = (
    "nl-core-BloodPressure-01", "nl-core-BodyWeight-01", "nl-core-BodyHeight-01", "nl-core-LaboratoryTestResult-02",
    "nl-core-Problem-01", "nl-core-AllergyIntolerance-01", "nl-core-Encounter-01", "nl-core-HeartRate-01",
)
MODES = {
    "off": ["--no-validate"],
    "base": [],
    "profiles": ["--package", str(NICTIZ / "zib"), "--package", str(NICTIZ / "nl-core")],
}


def bodies(with_profile: bool) -> list[dict[str, Any]]:
    """The example resources as JSON, without ids (the server assigns them); meta.profile kept or dropped."""
    from samen.fhir.model import Model
    from samen.fhir.xml import parse_resource

    model = Model.load()
    found = []
    for name in EXAMPLES:
        path = NICTIZ / "examples" / f"{name}.xml"
        if not path.exists():
            run.log(f"skipping {name}: not in {NICTIZ / 'examples'}")
            continue
        resource = parse_resource(path.read_bytes(), model)
        resource.pop("id", None)
        if not with_profile:
            resource.pop("meta", None)
        found.append(resource)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quiet-wait", type=float, default=60)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / f"validation-{time.strftime('%Y%m%d-%H%M%S')}.json")
    args = parser.parse_args()
    if not NICTIZ.is_dir():
        parser.error(f"{NICTIZ} is needed for the payloads and the nl-core packages")
    run.npm_ci()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payloads = {}
    for label, with_profile in (("plain", False), ("profiled", True)):
        path = args.out.with_suffix(f".{label}.json")
        path.write_text(json.dumps(bodies(with_profile)))
        payloads[label] = path
    dbs = run.Databases(None)
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    try:
        for round_no in range(args.repeat):
            for mode, serve_args in MODES.items():
                db_url = dbs.new("sqlite", f"validation-{mode}-{round_no}")
                log_file = args.out.with_suffix(".serve.log")
                server = run.Server(db_url, args.workers, log_file, ["--log-level", "warning", "--open", *serve_args])
                try:
                    payload = payloads["profiled" if mode == "profiles" else "plain"]
                    result = run.autocannon(server, "create", args, payload, dbs, "sqlite", None,
                                            ("--bodies", str(payload)))
                finally:
                    server.stop()
                statuses = result["status"]
                if set(statuses) != {"201"}:
                    raise RuntimeError(f"{mode}: non-201 answers {statuses}; see {log_file}")
                run.log(f"{mode} round {round_no + 1}: {result['ok_per_s']:.0f} creates/s, p50 {result['latency_ms']['p50']} ms")
                runs[mode].append(result)
    finally:
        dbs.close()
    summary = {mode: {"creates_per_s_median": round(statistics.median(r["ok_per_s"] for r in results), 1),
                      "p50_ms_median": statistics.median(r["latency_ms"]["p50"] for r in results),
                      "p99_ms_median": statistics.median(r["latency_ms"]["p99"] for r in results),
                      "runs": [round(r["ok_per_s"], 1) for r in results]}
               for mode, results in runs.items()}
    off = summary["off"]["creates_per_s_median"]
    for mode in ("base", "profiles"):
        summary[mode]["overhead_vs_off_pct"] = round(100 * (off / summary[mode]["creates_per_s_median"] - 1), 1)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "examples": EXAMPLES,
                                    "summary": summary, "runs": runs, "git": run.git_state()}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
