#!/usr/bin/env python3
"""Benchmarks of a samen node: bulk ingest, CRUD and read-only throughput, search latency.

For each database (SQLite, PostgreSQL) and data size (patients from samen.sample):
  1. make a fresh database (SQLite file, or a database on a throwaway PostgreSQL server started with
     tests/pg_server.py) and load the data with ``samen import`` (timed: the ingest benchmark);
  2. for each worker count: start ``samen serve --workers N``, then run
     - search: sequential requests over the query shapes of bench/search.py (first worker count only,
       before any CRUD writes change the data),
     - read:  autocannon, GET Type/id over known ids, 16 connections,
     - crud:  autocannon, POST -> GET -> PUT -> GET with the server-assigned id, 16 connections,
     each after a warm-up, recording requests/s, latency percentiles, status codes, RSS per worker and
     the CPU seconds used by server, PostgreSQL and the load generator;
  3. write bench/results/<run>/<db>-<patients>.json; bench/report.py turns results into Markdown.

Example (everything, about 25 minutes):
  .venv/bin/python bench/run.py --db sqlite postgres --patients 1000 10000 --workers 1 2 3
Quick smoke test:
  .venv/bin/python bench/run.py --db sqlite --patients 1000 --workers 1 --duration 5 --warmup 1 --per-shape 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
SAMEN = str(VENV_BIN / "samen")
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))

import data  # noqa: E402
import search  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                kids = (task / "children").read_text().split()
                found += map(int, kids)
                todo += map(int, kids)
        except OSError:
            pass
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


def private_mb(pid: int) -> float:
    """Resident memory that is not file-backed (statm: resident - shared): RSS counts the pages of an
    mmap-ed SQLite file, which the OS page cache shares between connections and processes."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
        return (int(fields[1]) - int(fields[2])) * PAGE / 2**20
    except OSError:
        return 0.0


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICKS


def busy_s() -> float:
    """CPU seconds spent by the whole machine (all cores, not idle, not iowait), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def wait_until_quiet(mine: list[int], max_wait: float, threshold: float = 0.3) -> float:
    """Other people's processes share this machine: wait (at most ``max_wait`` s) until processes that
    are not ours use less than ``threshold`` cores over 2 s. Returns the foreign load last seen (cores)."""
    deadline = time.monotonic() + max_wait
    while True:
        busy, own = busy_s(), cpu_s(mine)
        time.sleep(2)
        foreign = max(0.0, (busy_s() - busy) - (cpu_s(mine) - own)) / 2
        if foreign < threshold or time.monotonic() > deadline:
            return round(foreign, 2)
        log(f"  waiting: other processes use {foreign:.1f} cores")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- databases -------------------------------------------------------------------------------------


class Databases:
    """Fresh databases: SQLite files in a temporary folder, PostgreSQL databases on one throwaway server."""

    def __init__(self, sqlite_dir: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="samen-bench-", dir=sqlite_dir))
        self.pg = None

    def new(self, kind: str, name: str) -> str:
        if kind == "sqlite":
            path = self.tmp / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return f"sqlite:///{path}"
        if self.pg is None:
            import pg_server  # tests/pg_server.py: a throwaway server as a non-root user

            pg_server.begin_run()
            self.pg = pg_server.session_server()
            log(f"PostgreSQL server started (pid {self.pg.postmaster_pid()})")
        return self.pg.create_database()

    def backend_pids(self, kind: str) -> list[int]:
        if kind != "postgres" or self.pg is None or self.pg.postmaster_pid() is None:
            return []
        pid = self.pg.postmaster_pid()
        return [pid, *children(pid)]

    def analyze(self, kind: str, url: str) -> None:
        if kind == "postgres":
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        else:
            import sqlite3

            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            conn.execute("ANALYZE")
            conn.close()

    def versions(self) -> dict[str, str]:
        import sqlite3

        out = {"sqlite": sqlite3.sqlite_version}
        if self.pg is not None:
            import psycopg

            with psycopg.connect(self.pg.url) as conn:
                out["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        return out

    def close(self) -> None:
        if self.pg is not None:
            import pg_server

            pg_server.end_run()
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the server ------------------------------------------------------------------------------------


class Server:
    """``samen serve --workers N`` on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, db_url: str, workers: int, logfile: Path, extra: list[str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.workers = workers
        self.log = open(logfile, "ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [SAMEN, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), *(extra or ["--log-level", "warning"])],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"samen serve exited with {self.proc.returncode}; see {logfile}")
            try:
                with urllib.request.urlopen(self.base + "/metadata", timeout=5) as response:
                    if response.status == 200 and len(self.worker_pids()) >= workers:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"samen serve did not answer within 120 s; see {logfile}")
            time.sleep(0.2)
        self.start_s = round(time.monotonic() - started, 2)
        log(f"samen serve --workers {workers} answered after {self.start_s} s")
        time.sleep(0.5 if workers == 1 else 2)  # let every worker finish starting

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the main one with 1 worker, else uvicorn's spawned workers."""
        if self.workers == 1:
            return [self.proc.pid]
        return [p for p in children(self.proc.pid) if "multiprocessing" in cmdline(p) and "resource_tracker" not in cmdline(p)]

    def rss(self) -> dict[str, Any]:
        workers = [round(rss_mb(p), 1) for p in self.worker_pids()]
        others = [round(rss_mb(p), 1) for p in self.pids() if p not in self.worker_pids()]
        private = [round(private_mb(p), 1) for p in self.worker_pids()]
        return {"workers_mb": workers, "workers_private_mb": private, "other_processes_mb": others}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script started
                self.proc.wait()
        self.log.close()


# -- scenarios -------------------------------------------------------------------------------------


def npm_ci() -> None:
    marker = BENCH / "node_modules" / ".package-lock.json"
    lock = BENCH / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    log("npm ci (autocannon, pinned in bench/package-lock.json)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH, check=True)


def autocannon(server: Server, scenario: str, args: argparse.Namespace, ids_file: Path, dbs: Databases,
               kind: str, profile_to: Path | None, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    command = ["node", str(BENCH / "load.js"), "--url", server.base, "--scenario", scenario,
               "--connections", str(args.connections), "--ids", str(ids_file), "--warmup", "0", *extra]
    if args.warmup > 0:
        subprocess.run([*command, "--duration", str(args.warmup)], check=True, capture_output=True)
    server_pids, pg_pids = server.pids(), dbs.backend_pids(kind)
    foreign_before = wait_until_quiet(server_pids + pg_pids + [os.getpid()], args.quiet_wait)
    before = (cpu_s(server_pids), cpu_s(pg_pids), time.monotonic(), busy_s())
    proc = subprocess.Popen([*command, "--duration", str(args.duration)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    spy = None
    if profile_to is not None:
        spy = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "--gil", "--format", "raw",
                                "-o", str(profile_to), "-d", str(max(1, args.duration - 2)), "-r", "200",
                                "-p", str(server.worker_pids()[0])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak: dict[str, Any] = {}
    load_cpu = 0.0
    while proc.poll() is None:
        load_cpu = cpu_s([proc.pid, *children(proc.pid)]) or load_cpu
        current = server.rss()
        if sum(current["workers_mb"]) > sum(peak.get("workers_mb", [])):
            peak = current
        time.sleep(0.5)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load.js failed: {err.decode()[-2000:]}")
    if spy is not None:
        spy.wait()
    wall = time.monotonic() - before[2]
    machine = busy_s() - before[3]
    result = json.loads(out)
    result["rss_peak"] = peak
    result["cpu_s"] = {"server": round(cpu_s(server_pids) - before[0], 1),
                       "postgres": round(cpu_s(dbs.backend_pids(kind)) - before[1], 1),
                       "load_generator": round(load_cpu, 1), "wall": round(wall, 1)}
    own = sum(v for k, v in result["cpu_s"].items() if k != "wall")
    # CPU used by processes that are not part of this benchmark (other people's work on the machine)
    result["cpu_s"]["foreign"] = round(max(0.0, machine - own), 1)
    result["foreign_cores_before"] = foreign_before
    return result


def ingest(db_url: str, folder: Path, kind: str, dbs: Databases, log_file: Path) -> dict[str, Any]:
    files = sorted((folder / "ndjson").glob("*.ndjson")) if kind == "ndjson" else sorted(folder.glob("bundle-*.json"))
    # references between files: import targets first (Organization, Practitioner, Patient, Encounter, ...)
    order = ["Organization", "Practitioner", "Patient", "Encounter"]
    files.sort(key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.name))
    started = time.monotonic()
    done = subprocess.run([SAMEN, "import", "--db", db_url, "--no-progress", *map(str, files)],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    with open(log_file, "a") as handle:
        handle.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"samen import failed: {done.stderr[-3000:]}")
    line = [l for l in done.stderr.splitlines() if l.startswith("imported ")][-1]
    resources = int(line.split()[1])
    inner = float(line.split(" in ")[1].split(" s ")[0])
    return {"format": kind, "resources": resources, "wall_s": round(wall, 2), "import_s": inner,
            "resources_per_s": round(resources / inner, 1), "resources_per_s_wall": round(resources / wall, 1),
            "summary": line}


def profile_summary(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0  # noqa: E731
    return {"samples": total,
            "self": [(f, pct(c)) for f, c in own.most_common(top)],
            "inclusive": [(f, pct(c)) for f, c in inclusive.most_common(top * 2)]}


def git_state() -> dict[str, Any]:
    """The commit the server code comes from, and the files under src/ that differ from it."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "changed": git("status", "--porcelain", "--", "src").splitlines()}


def ensure_pyspy() -> None:
    if not (VENV_BIN / "py-spy").exists():
        log("installing py-spy (bench-only) into the venv")
        subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "install", "-q", "py-spy==0.4.1"], check=True)


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--patients", nargs="+", type=int, default=[1000, 10000])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--scenarios", nargs="*", choices=["search", "read", "crud"], default=["search", "read", "crud"])
    parser.add_argument("--ingest", choices=["ndjson", "bundle"], default="ndjson",
                        help="how the data is loaded (and ingest measured): samen import of ndjson files or of the transaction Bundles")
    parser.add_argument("--search-workers", type=int, default=None, help="worker count for the search scenario (default: the first of --workers)")
    parser.add_argument("--duration", type=int, default=25, help="seconds measured per load scenario")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up before each load scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each load scenario (the report takes medians)")
    parser.add_argument("--per-shape", type=int, default=40, help="measured requests per search shape")
    parser.add_argument("--profile", nargs="*", default=[], choices=["read", "crud"],
                        help="after the measured runs with the first worker count, one extra 10 s run of these scenarios "
                             "with py-spy on a worker (collapsed stacks and top functions go in the results, not in the medians)")
    parser.add_argument("--quiet-wait", type=float, default=90,
                        help="before each measured load run, wait up to this many seconds for other processes on the machine to go quiet")
    parser.add_argument("--serve-args", default="--log-level warning --open",
                        help="extra options for samen serve (default: %(default)s: open development mode, since these benchmarks measure storage and search; e.g. '--log-level info --open' for the access log)")
    parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE after loading")
    parser.add_argument("--sqlite-dir", default=None, help="where SQLite files go (default: the temp folder)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / time.strftime("%Y%m%d-%H%M%S"))
    args = parser.parse_args()

    if args.ingest == "bundle" and {"read", "search"} & set(args.scenarios):
        parser.error("with --ingest bundle the server assigns new ids, so the ids that read and search draw from "
                     "are unknown: use --ingest bundle with --scenarios crud or none (--scenarios with no value)")
    npm_ci()
    if args.profile:
        ensure_pyspy()
    args.out.mkdir(parents=True, exist_ok=True)
    dbs = Databases(args.sqlite_dir)
    try:
        for patients in args.patients:
            folder = BENCH / "results" / "data" / str(patients)
            log(f"data: {patients} patients (samen.sample) -> {folder}")
            facts = data.prepare(folder, patients)
            ids = [f"Patient/{p['id']}" for p in facts["patient"]] + \
                  [f"Observation/{o['id']}" for o in facts["observation"]] + \
                  [f"Condition/{c['id']}" for c in facts["condition"]]
            ids_file = folder / "ids.json"
            ids_file.write_text(json.dumps(ids))
            for kind in args.db:
                name = f"{kind}-{patients}"
                result: dict[str, Any] = {"db": kind, "patients": patients, "resources": facts["resources"],
                                          "generate_s": facts["generate_s"], "args": {k: str(v) for k, v in vars(args).items()},
                                          "runs": []}
                url = dbs.new(kind, name)
                log(f"{name}: ingest ({args.ingest})")
                result["ingest"] = ingest(url, folder, args.ingest, dbs, args.out / f"{name}.log")
                log(f"{name}: {result['ingest']['summary']}")
                if not args.no_analyze:
                    dbs.analyze(kind, url)
                result["versions"] = dbs.versions()
                result["code"] = git_state()  # other people change the server code while benchmarks run
                search_workers = args.search_workers or args.workers[0]
                for workers in dict.fromkeys([*([search_workers] if "search" in args.scenarios else []), *args.workers]):
                    if not args.scenarios:
                        break
                    server = Server(url, workers, args.out / f"{name}.log", args.serve_args.split())
                    try:
                        run: dict[str, Any] = {"workers": workers, "start_s": server.start_s, "rss_idle": server.rss()}
                        if "search" in args.scenarios and workers == search_workers:
                            log(f"{name} w{workers}: search latency ({len(search.SHAPES)} shapes x {args.per_shape})")
                            mine = server.pids() + dbs.backend_pids(kind) + [os.getpid()]
                            quiet = wait_until_quiet(mine, args.quiet_wait)
                            busy, own, started = busy_s(), cpu_s(mine), time.monotonic()
                            run["search"] = search.run(server.base, facts, per_shape=args.per_shape,
                                                       progress=lambda s: log("  " + s))
                            run["search"]["foreign_cores_before"] = quiet
                            run["search"]["foreign_cores_during"] = round(
                                max(0.0, (busy_s() - busy) - (cpu_s(mine) - own)) / (time.monotonic() - started), 2)
                            run["rss_after_search"] = server.rss()
                            log(f"{name} w{workers}: search overall {run['search']['overall']}")
                        if workers in args.workers:
                            for scenario in [s for s in ("read", "crud") if s in args.scenarios]:
                                run[scenario] = []
                                for n in range(args.repeat):
                                    outcome = autocannon(server, scenario, args, ids_file, dbs, kind, None)
                                    run[scenario].append(outcome)
                                    log(f"{name} w{workers} {scenario}#{n}: {outcome['requests_per_s']:.0f} req/s, "
                                        f"p50 {outcome['latency_ms']['p50']} ms, p95 {outcome['latency_ms']['p95']} ms, "
                                        f"status {outcome['status']}, errors {outcome['errors']}, cpu {outcome['cpu_s']}, "
                                        f"foreign before {outcome['foreign_cores_before']}, "
                                        f"rss {outcome['rss_peak'].get('workers_mb')}")
                            for scenario in [s for s in args.profile if s in args.scenarios] if workers == args.workers[0] else []:
                                raw = args.out / f"{name}-w{workers}-{scenario}.pyspy.txt"
                                profiled = argparse.Namespace(**{**vars(args), "duration": 10, "warmup": 0})
                                outcome = autocannon(server, scenario, profiled, ids_file, dbs, kind, raw)
                                outcome["profile"] = profile_summary(raw) if raw.exists() else None
                                run[f"{scenario}_profiled"] = outcome
                                log(f"{name} w{workers} {scenario} profiled: {outcome['requests_per_s']:.0f} req/s -> {raw}")
                        result["runs"].append(run)
                    finally:
                        server.stop()
                (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
                log(f"{name}: written {args.out / (name + '.json')}")
    finally:
        dbs.close()


if __name__ == "__main__":
    main()
