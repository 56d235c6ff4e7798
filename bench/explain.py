#!/usr/bin/env python3
"""Where a search spends its time: every SQL statement it runs, timed, with the plan of the slowest.

Loads the benchmark data into a throwaway database (as bench/run.py does), then runs each search
given (``Type?param=value&...``, as in bench/search.py's examples) through the store, recording the
SQL. Prints per search: the statements, their time, and EXPLAIN QUERY PLAN (SQLite) or
EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) of the slowest one.

    .venv/bin/python bench/explain.py --db sqlite --patients 10000 \\
        'Observation?code=http://loinc.org|4548-4&value-quantity=gt8&_count=20'
    .venv/bin/python bench/explain.py --db postgres --patients 10000 --shapes   # one example of every bench shape
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import data  # noqa: E402
import run  # noqa: E402
import search  # noqa: E402


class Recorder:
    """Wraps a store connection; keeps (sql, args, seconds) of every statement."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.log: list[tuple[str, list, float]] = []

    def execute(self, sql, args=()):
        started = time.perf_counter()
        rows = self.conn.execute(sql, args)
        self.log.append((sql, list(args), time.perf_counter() - started))
        return rows

    def __getattr__(self, name):
        return getattr(self.conn, name)


def explain(database, kind: str, sql: str, args: list) -> str:
    with database.connection() as conn:
        if kind == "sqlite":
            rows = conn.execute("EXPLAIN QUERY PLAN " + sql, args)
            return "\n".join(f"  {r[-1]}" for r in rows)
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, args)
        return "\n".join(f"  {r[0]}" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("searches", nargs="*", help="Type?param=value&... (URL-encoded or not)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--shapes", action="store_true", help="also one example of every shape of bench/search.py")
    parser.add_argument("--repeat", type=int, default=5, help="runs per search (the fastest is reported)")
    args = parser.parse_args()

    from samen.fhir.model import Model
    from samen.store.db import open_database
    from samen.store.search import parse_search, run_search

    folder = BENCH / "results" / "data" / str(args.patients)
    facts = data.prepare(folder, args.patients)
    searches = list(args.searches)
    if args.shapes:
        rng = random.Random(3)
        searches += [make(rng, facts) for make in search.SHAPES.values()]
    dbs = run.Databases(None)
    try:
        url = dbs.new(args.db, f"explain-{args.db}-{args.patients}")
        print(run.ingest(url, folder, "ndjson", dbs, Path("/dev/null"))["summary"], file=sys.stderr)
        dbs.analyze(args.db, url)
        model = Model.load()
        database = open_database(url)
        for text in searches:
            res_type, _, query = text.partition("?")
            params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)]
            compartment = None
            parts = res_type.split("/")
            if len(parts) == 3:
                compartment, res_type = (parts[0], parts[1]), parts[2]
            best = None
            for _ in range(args.repeat):
                with database.connection() as conn:
                    recorder = Recorder(conn)
                    parsed = parse_search(model, res_type, params, compartment=compartment)
                    started = time.perf_counter()
                    result = run_search(recorder, model, parsed)
                    elapsed = time.perf_counter() - started
                if best is None or elapsed < best[0]:
                    best = (elapsed, recorder.log, len(result.matches), result.total)
            elapsed, log, matches, total = best
            print(f"\n### {unquote(text)}\n{elapsed * 1000:.1f} ms, {matches} matches on the page, total {total}")
            for sql, sql_args, seconds in log:
                print(f"- {seconds * 1000:7.2f} ms  {' '.join(sql.split())[:400]}  args={sql_args[:8]}")
            slowest = max(log, key=lambda entry: entry[2])
            print(f"plan of the slowest ({slowest[2] * 1000:.1f} ms):\n{explain(database, args.db, slowest[0], slowest[1])}")
        database.close()
    finally:
        dbs.close()


if __name__ == "__main__":
    main()
