#!/usr/bin/env python3
"""What the audit trail costs reads: throughput with and without it, over HTTP, 1 and 2 worker processes.

One database (SQLite, or PostgreSQL with ``--engine postgres``: a server this run starts) with the
sample data (``--patients``, about 25 resources each) is served by ``samen serve --open`` with the
trail on, and with it off (``SAMEN_BENCHMARK_NO_AUDIT=1``, a switch that exists for this comparison
only). Two worker processes are two single-worker servers on the database, each load-tested with half
the connections (``--shared-socket``: ``samen serve --workers 2`` instead, whose workers get uneven
shares of the connections). autocannon (--connections, --seconds) measures
- read:   GET Observation/[id]
- search: GET Observation?subject=Patient/[id]&_count=10
and a sequential client (one keep-alive connection) gives the p50 latency of a read, which with the
trail includes writing the entry to the spool. Besides requests/s it reports the CPU time the serving
processes spent per request (user + system, from /proc): on a shared machine other jobs take cores
away and make requests/s swing by 2x between runs, while CPU per request moves far less, and when the
node is CPU-bound 1 - cpu_off/cpu_on is the throughput it loses to the trail. Rounds alternate on/off
and 1/2 workers so background load hits them alike; the summary holds medians over the rounds.

  .venv/bin/python bench/audit_overhead.py [--engine sqlite|postgres] [--patients 40] [--rounds 3]
      [--connections 16] [--seconds 8] [--shared-socket]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

import pg_server  # noqa: E402
from auth_overhead import throughput  # noqa: E402
from run import Server, children  # noqa: E402

from samen import logs  # noqa: E402
from samen.api.messages import FhirRequest  # noqa: E402
from samen.audit.trail import NO_AUDIT_FOR_BENCHMARK  # noqa: E402
from samen.auth.enforcement import OPERATOR_CONTEXT  # noqa: E402
from samen.node import Node  # noqa: E402
from samen.quickstart import load  # noqa: E402
from samen.sample import sample_bundle  # noqa: E402
from samen.settings import Settings  # noqa: E402


def prepare(db: str, patients: int) -> tuple[int, str, str]:
    """Load the sample data; (resources, an Observation's ``Type/id``, its subject's ``Patient/id``)."""
    node = Node.open(db, Settings(base_url="http://127.0.0.1:1/fhir"))
    try:
        load(node, sample_bundle(patients, seed=1))
        request = FhirRequest("GET", "Observation", [("_count", "1")], base_url=node.settings.base_url,
                              access=OPERATOR_CONTEXT)
        observation = orjson.loads(node.router.handle(request).payload() or b"{}")["entry"][0]["resource"]
        with node.store.session(write=False) as session:
            count = session.conn.execute("SELECT count(*) FROM resource")[0][0]
        return count, f"Observation/{observation['id']}", observation["subject"]["reference"]
    finally:
        node.close()


def sequential_p50(url: str, count: int) -> float:
    latencies = []
    with httpx.Client(timeout=30) as client:
        for index in range(count + 100):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            if index >= 100:
                latencies.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(latencies), 3)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def database_server_pids(engine: str) -> list[int]:
    """The PostgreSQL server's processes (postmaster and backends), when the bench runs one."""
    if engine != "postgres":
        return []
    postmaster = pg_server.session_server().postmaster_pid()
    return [postmaster, *children(postmaster)] if postmaster else []


def machine_cpu_seconds() -> float:
    """CPU time of the whole machine so far, every process (user + system + softirq, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def start_servers(db: str, folder: Path, workers: int, audit: bool, shared_socket: bool) -> list[Server]:
    """``samen serve --workers N`` (one socket, accepted from by every worker), or N single-worker servers.

    With one shared socket the kernel hands autocannon's connections to the workers unevenly, and
    differently in each run (5/11, 3/13, even 16/0 seen with ``ss``): one worker's event loop accepts
    a whole burst of new connections at once. That made 2-worker rounds bimodal. N servers on the
    same database, each load-tested with its share of the connections, is the balanced load a load
    balancer in front of the workers gives; the trail works the same (one spool file per process).
    """
    if audit:
        os.environ.pop(NO_AUDIT_FOR_BENCHMARK, None)
    else:
        os.environ[NO_AUDIT_FOR_BENCHMARK] = "1"
    name = f"{workers}-{'on' if audit else 'off'}"
    try:
        if shared_socket or workers == 1:
            return [Server(db, workers, folder / f"serve-{name}.log", ["--log-level", "warning", "--open"])]
        return [Server(db, 1, folder / f"serve-{name}-{n}.log", ["--log-level", "warning", "--open"])
                for n in range(workers)]
    finally:
        os.environ.pop(NO_AUDIT_FOR_BENCHMARK, None)


def balanced_throughput(servers: list[Server], path: str, options: argparse.Namespace) -> float:
    """Requests/s of all ``servers`` together, each load-tested at once with its share of the connections."""
    with ThreadPoolExecutor(len(servers)) as pool:
        rates = pool.map(lambda server: throughput(f"{server.base}/{path}", None,
                                                   options.connections // len(servers), options.seconds)["rps"],
                         servers)
        return round(sum(rates), 1)


def one_run(db: str, folder: Path, workers: int, audit: bool, paths: dict[str, str],
            options: argparse.Namespace) -> dict[str, float]:
    servers = start_servers(db, folder, workers, audit, options.shared_socket)
    try:
        result = {"read_p50_ms": sequential_p50(f"{servers[0].base}/{paths['read']}", options.requests)}
        pids = [pid for server in servers for pid in server.worker_pids()]
        database_pids = database_server_pids(options.engine)
        for name, path in paths.items():
            before = cpu_seconds(pids), cpu_seconds(database_pids), machine_cpu_seconds()
            result[f"{name}_rps"] = balanced_throughput(servers, path, options)
            after = cpu_seconds(pids), cpu_seconds(database_pids), machine_cpu_seconds()
            requests = result[f"{name}_rps"] * options.seconds
            result[f"{name}_cpu_us"] = round((after[0] - before[0]) / requests * 1e6, 1)
            if database_pids:
                result[f"{name}_db_cpu_us"] = round((after[1] - before[1]) / requests * 1e6, 1)
            result[f"{name}_machine_cpu_us"] = round((after[2] - before[2]) / requests * 1e6, 1)
        return result
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000, help="sequential reads per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--shared-socket", action="store_true",
                        help="2 workers as `samen serve --workers 2` (uneven connections) instead of 2 servers")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--out", type=Path,
                        default=BENCH / "results" / f"audit-overhead-{time.strftime('%Y%m%d-%H%M%S')}.json")
    options = parser.parse_args()
    logs.configure("warning")
    folder = Path(tempfile.mkdtemp(prefix="samen-bench-audit-"))
    pg_server.begin_run()
    try:
        run_all(folder, options)
    finally:
        pg_server.end_run()


def run_all(folder: Path, options: argparse.Namespace) -> None:
    db = str(folder / "bench.db") if options.engine == "sqlite" else pg_server.session_server().create_database()
    resources, observation, patient = prepare(db, options.patients)
    paths = {"read": observation, "search": f"Observation?subject={patient}&_count=10"}
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(options.rounds):
        for workers in (1, 2):
            for audit in (True, False):
                key = f"{workers} worker{'s' if workers > 1 else ''}, audit {'on' if audit else 'off'}"
                runs.setdefault(key, []).append(one_run(db, folder, workers, audit, paths, options))
    summary: dict[str, Any] = {key: {m: statistics.median(r[m] for r in results) for m in results[0]}
                               for key, results in runs.items()}
    for workers in ("1 worker", "2 workers"):
        on, off = summary[f"{workers}, audit on"], summary[f"{workers}, audit off"]
        summary[f"{workers}: overhead"] = {
            "read_rps": round(1 - on["read_rps"] / off["read_rps"], 3),
            "search_rps": round(1 - on["search_rps"] / off["search_rps"], 3),
            "read_p50_added_ms": round(on["read_p50_ms"] - off["read_p50_ms"], 3),
            "read_cpu": round(1 - off["read_cpu_us"] / on["read_cpu_us"], 3),
            "search_cpu": round(1 - off["search_cpu_us"] / on["search_cpu_us"], 3),
            "read_machine_cpu": round(1 - off["read_machine_cpu_us"] / on["read_machine_cpu_us"], 3),
            "search_machine_cpu": round(1 - off["search_machine_cpu_us"] / on["search_machine_cpu_us"], 3),
        }
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
              "cpus": os.cpu_count(), "engine": options.engine, "shared_socket": options.shared_socket,
              "resources": resources, "uptime_before": uptime_before,
              "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
              "summary": summary, "runs": runs}
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
