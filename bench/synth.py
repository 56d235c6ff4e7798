"""Benchmark of `samen synth`: people/s and wall time for a population, median of several runs.

    .venv/bin/python bench/synth.py --people 100000 --runs 3 --workers 2

Each run generates into a fresh temporary folder (removed afterwards) and records wall time, people/s,
resources/s, output size and the peak resident memory of the main process and of the workers.
Results go to bench/results/synth-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from samen.synth.run import SynthOptions, generate


def run_once(people: int, workers: int, output_format: str) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="synth-bench-")) / "out"
    try:
        started = time.perf_counter()
        manifest = generate(SynthOptions(people=people, seed=1, out=out, workers=workers, format=output_format))
        elapsed = time.perf_counter() - started
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out.parent)
    resources = sum(manifest["resources"].values())
    return {"seconds": elapsed, "people_per_s": people / elapsed, "resources": resources,
            "resources_per_s": resources / elapsed, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="ndjson", choices=("ndjson", "bundle"))
    args = parser.parse_args()
    runs = [run_once(args.people, args.workers, args.format) for _ in range(args.runs)]
    for number, run in enumerate(runs, 1):
        print(f"run {number}: {run['seconds']:.1f} s, {run['people_per_s']:,.0f} people/s, "
              f"{run['resources_per_s']:,.0f} resources/s, {run['bytes'] / 1e6:,.0f} MB")
    result = {
        "people": args.people, "workers": args.workers, "format": args.format, "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_people_per_s": statistics.median(r["people_per_s"] for r in runs),
        "max_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cpus": os.cpu_count(),
    }
    print(f"median: {result['median_seconds']:.1f} s, {result['median_people_per_s']:,.0f} people/s; peak RSS "
          f"main {result['max_rss_main_mb']:.0f} MB, largest worker {result['max_rss_worker_mb']:.0f} MB")
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"synth-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
