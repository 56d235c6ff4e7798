#!/usr/bin/env python3
"""Markdown tables from the JSON that bench/run.py wrote.

    .venv/bin/python bench/report.py bench/results/<run>            # prints Markdown, writes <run>/summary.md
    .venv/bin/python bench/report.py bench/results/<run> --profiles # also the top functions of py-spy profiles

Load scenarios: other people's processes share the benchmark machine, so of the repeated runs the one
during which they used the least CPU ("cleanest") is reported, with the rates of all runs beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TARGETS = {"crud": 1000, "read": 2500, "ingest": 3000, "search_p50_ms": 15}
MEDPLUM_CRUD = 410  # Medplum 5.0.10 + PostgreSQL 15 on this machine: about 410 requests/s at p50 36 ms


def load(folder: Path) -> list[dict]:
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    order = {"sqlite": 0, "postgres": 1}
    return sorted(results, key=lambda r: (order[r["db"]], r["patients"]))


def label(r: dict) -> str:
    return f"{'SQLite' if r['db'] == 'sqlite' else 'PostgreSQL'} {r['patients'] // 1000}k"


def median_run(runs: list[dict]) -> tuple[dict, float, float, float]:
    """The cleanest run (least foreign CPU), its rate, and the lowest and highest rate of all runs."""
    rates = [x["requests_per_s"] for x in runs]
    cleanest = min(runs, key=lambda x: x["cpu_s"].get("foreign", 0))
    return cleanest, cleanest["requests_per_s"], min(rates), max(rates)


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ingest_table(results: list[dict]) -> list[str]:
    lines = ["| data | resources | format | import time (s) | resources/s | incl. start-up (res/s) | target 3,000/s |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for r in results:
        i = dict(r["ingest"])
        if "resources/s)" in i.get("summary", ""):  # the rate as samen import reports it (unrounded time)
            i["resources_per_s"] = float(i["summary"].split(" s (", 1)[1].split(" resources/s")[0].replace(",", ""))
        lines.append(f"| {label(r)} | {i['resources']:,} | {i['format']} | {i['import_s']:.1f} | {i['resources_per_s']:,.0f} | "
                     f"{i['resources_per_s_wall']:,.0f} | {i['resources_per_s'] / TARGETS['ingest']:.2f}x |")
    return lines


def load_table(results: list[dict]) -> list[str]:
    lines = ["| data | workers | scenario | req/s cleanest run (all runs) | p50 ms | p95 ms | p99 ms | non-2xx / errors | RSS per worker MB (peak) | CPU cores: server / PostgreSQL / autocannon / other people's |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        for run in r["runs"]:
            for scenario in ("crud", "read"):
                if not run.get(scenario):
                    continue
                mid, med, lo, hi = median_run(run[scenario])
                lat = mid["latency_ms"]
                cpu = mid["cpu_s"]
                wall = cpu["wall"] or 1
                bad = sum(x["non2xx"] for x in run[scenario])
                errors = sum(x["errors"] for x in run[scenario])
                rss = ", ".join(f"{m:.0f}" for m in mid["rss_peak"].get("workers_mb", []))
                if mid["rss_peak"].get("workers_private_mb"):  # since 23 Nov 17:30: (private) beside RSS
                    rss += " (" + ", ".join(f"{m:.0f}" for m in mid["rss_peak"]["workers_private_mb"]) + ")"
                every = ", ".join(f"{x['requests_per_s']:,.0f}" for x in run[scenario])
                lines.append(f"| {label(r)} | {run['workers']} | {scenario} | {med:,.0f} ({every}) | {fmt(lat['p50'])} | "
                             f"{fmt(lat['p95'])} | {fmt(lat['p99'])} | {bad} / {errors} | {rss} | "
                             f"{cpu['server'] / wall:.2f} / {cpu['postgres'] / wall:.2f} / {cpu['load_generator'] / wall:.2f} / "
                             f"{fmt(cpu['foreign'] / wall if 'foreign' in cpu else None, 2)} |")
    return lines


def best_table(results: list[dict]) -> list[str]:
    lines = ["| data | CRUD req/s (best workers) | vs target 1,000 | vs Medplum 410 | CRUD p50 ms | read req/s (best workers) | vs target 2,500 | read p50 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        best = {}
        for scenario in ("crud", "read"):
            candidates = [(median_run(run[scenario]), run["workers"]) for run in r["runs"] if run.get(scenario)]
            if candidates:
                best[scenario] = max(candidates, key=lambda c: c[0][1])
        if not best:
            continue
        cells = [label(r)]
        if "crud" in best:
            (mid, med, _, _), w = best["crud"]
            cells += [f"{med:,.0f} ({w}w)", f"{med / TARGETS['crud']:.2f}x", f"{med / MEDPLUM_CRUD:.2f}x", fmt(mid["latency_ms"]["p50"])]
        else:
            cells += ["-"] * 4
        if "read" in best:
            (mid, med, _, _), w = best["read"]
            cells += [f"{med:,.0f} ({w}w)", f"{med / TARGETS['read']:.2f}x", fmt(mid["latency_ms"]["p50"])]
        else:
            cells += ["-"] * 3
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def search_table(results: list[dict]) -> list[str]:
    columns = [(label(r), run["search"]) for r in results for run in r["runs"] if run.get("search")]
    if not columns:
        return []
    lines = ["| query shape | " + " | ".join(f"{name} p50 / p95 ms (hits)" for name, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    shapes = list(columns[0][1]["shapes"])
    for shape in shapes:
        cells = []
        for _, s in columns:
            x = s["shapes"].get(shape)
            if not x:
                cells.append("-")
                continue
            err = sum(v for v in x["errors"].values() if isinstance(v, int))
            cells.append(f"{fmt(x['p50_ms'])} / {fmt(x['p95_ms'])} ({fmt(x['mean_hits'], 0)})" + (f" **{err} errors**" if err else ""))
        lines.append(f"| `{shape}` | " + " | ".join(cells) + " |")
    lines.append("| **all requests** | " + " | ".join(
        f"**{fmt(s['overall']['p50_ms'])} / {fmt(s['overall']['p95_ms'])}**" for _, s in columns) + " |")
    lines.append("| shapes with p50 > 15 ms | " + " | ".join(
        str(sum(1 for x in s["shapes"].values() if (x["p50_ms"] or 0) > TARGETS["search_p50_ms"])) for _, s in columns) + " |")
    lines.append("| other people's CPU during the run (cores) | " + " | ".join(
        fmt(s.get("foreign_cores_during"), 2) for _, s in columns) + " |")
    lines.append("| target p50 <= 15 ms | " + " | ".join(
        ("met" if (s["overall"]["p50_ms"] or 1e9) <= TARGETS["search_p50_ms"] else "missed") +
        f" ({s['overall']['shapes_ok']}/{s['overall']['shapes']} shapes without errors)" for _, s in columns) + " |")
    return lines


def profiles(results: list[dict], top: int = 15) -> list[str]:
    lines = []
    for r in results:
        for run in r["runs"]:
            for key in ("crud_profiled", "read_profiled"):
                p = (run.get(key) or {}).get("profile")
                if not p:
                    continue
                lines += ["", f"#### {label(r)}, {run['workers']} worker(s), {key.split('_')[0]}: {p['samples']} samples (py-spy --gil, one worker)", "",
                          "| inclusive % | function |", "|---:|---|"]
                lines += [f"| {pct} | `{name}` |" for name, pct in p["inclusive"][:top * 2]]
                lines += ["", "| self % | function |", "|---:|---|"]
                lines += [f"| {pct} | `{name}` |" for name, pct in p["self"][:top]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--profiles", action="store_true")
    args = parser.parse_args()
    results = load(args.folder)
    parts = ["### Bulk ingest (`samen import`)", "", *ingest_table(results), "",
             "### Best worker count per data set", "", *best_table(results), "",
             "### All load runs (autocannon, 16 connections)", "", *load_table(results), "",
             "### Search latency (sequential, per shape)", "", *search_table(results)]
    if args.profiles:
        parts += ["", "### Profiles", *profiles(results)]
    text = "\n".join(parts) + "\n"
    (args.folder / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
