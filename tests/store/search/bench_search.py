"""Search latency and query plans at scale, straight on the storage engines (no HTTP).

    .venv/bin/python tests/store/search/bench_search.py --patients 10000 [--engines sqlite,postgres]
        [--runs 100] [--explain] [--analyze-sqlite] [--shape NAME]

Data: ``samen.sample`` patients (5,000 per seed), with every Observation copied four more times
and every Encounter two more times (earlier dates), so 10,000 patients are about 450,000
resources. Generated once into ``$TMPDIR/samen-search-bench/<patients>/`` and loaded into a SQLite
file there and a database on a throwaway PostgreSQL server (``tests/pg_server.py``).

For each query shape: p50/p95 of ``parse_search`` + ``run_search`` (the whole search, rows fetched)
and the mean number of matches on the page; ``--explain`` prints the plan of the page query.
Not a test (pytest does not collect it); its numbers go into the search design notes.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for pg_server

from samen.fhir.model import Model  # noqa: E402
from samen.fhir.primitives import date_range, now_ms  # noqa: E402
from samen.sample import sample_bundle  # noqa: E402
from samen.store.db import Database, open_database  # noqa: E402
from samen.store.indexer import Indexer  # noqa: E402
from samen.store.rows import COLUMNS  # noqa: E402
from samen.store.search import parse_search, run_search  # noqa: E402
from samen.store.search.compile import compile_query  # noqa: E402
from samen.store.search.dialect import measures_filters  # noqa: E402
from samen.store.search.params import TOTAL_CAP  # noqa: E402
from samen.store.search.run import _probe  # noqa: E402

BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
PER_SEED = 5000


# -- data ---------------------------------------------------------------------------------------


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


def _shift_years(text: str, years: int) -> str:
    return f"{int(text[:4]) - years:04d}{text[4:]}"


def generate(folder: Path, patients: int) -> Path:
    path = folder / "resources.ndjson"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        seed = 0
        left = patients
        while left > 0:
            seed += 1
            n = min(PER_SEED, left)
            left -= n
            bundle = sample_bundle(n, seed=seed)
            ids = {}
            for entry in bundle["entry"]:
                resource = entry["resource"]
                res_id = f"s{seed}-{entry['fullUrl'].rsplit(':', 1)[-1]}"
                ids[entry["fullUrl"]] = f"{resource['resourceType']}/{res_id}"
                resource["id"] = res_id
            for entry in bundle["entry"]:
                resource = _rewrite(entry["resource"], ids)
                out.write(orjson.dumps(resource) + b"\n")
                copies = {"Observation": 4, "Encounter": 2}.get(resource["resourceType"], 0)
                for k in range(1, copies + 1):
                    twin = copy.deepcopy(resource)
                    twin["id"] = f"{resource['id']}-{k}"
                    if "effectiveDateTime" in twin:
                        twin["effectiveDateTime"] = _shift_years(twin["effectiveDateTime"], k)
                    if "period" in twin:
                        twin["period"] = {key: _shift_years(v, k) for key, v in twin["period"].items()}
                    out.write(orjson.dumps(twin) + b"\n")
            print(f"generated seed {seed} ({n} patients)", file=sys.stderr)
    tmp.rename(path)
    return path


def load(database: Database, model: Model, path: Path) -> int:
    indexer = Indexer(model, "http://bench.example/fhir")
    inserts = {
        table: f"INSERT INTO {table} (rid, res_type, {', '.join(cols)}) VALUES (?, ?{', ?' * len(cols)})"
        for table, cols in COLUMNS.items()
    }
    postgres = database.dialect.name == "postgres"
    rid_insert = "OVERRIDING SYSTEM VALUE " if postgres else ""
    start = now_ms() - 400 * 86_400_000
    total = 0
    with database.connection() as conn:
        conn.begin(write=True)
        batch: dict[str, list[tuple]] = {table: [] for table in [*inserts, "resource", "resource_version"]}

        def flush() -> None:
            for table, rows in batch.items():
                if not rows:
                    continue
                if table == "resource":
                    sql = (
                        f"INSERT INTO resource (rid, res_type, res_id, version, updated_ms, deleted) {rid_insert}"
                        "VALUES (?, ?, ?, 1, ?, 0)"
                    )
                elif table == "resource_version":
                    sql = (
                        "INSERT INTO resource_version (rid, version, res_type, res_id, updated_ms, method, content) "
                        "VALUES (?, 1, ?, ?, ?, 'POST', ?)"
                    )
                else:
                    sql = inserts[table]
                conn.execute_many(sql, rows)
                rows.clear()

        with path.open("rb") as lines:
            for rid, line in enumerate(lines, 1):
                resource = orjson.loads(line)
                res_type, res_id = resource["resourceType"], resource["id"]
                updated = start + rid * 50
                batch["resource"].append((rid, res_type, res_id, updated))
                batch["resource_version"].append((rid, res_type, res_id, updated, line.rstrip(b"\n")))
                for table, rows in indexer.index(resource).by_table().items():
                    batch[table].extend((rid, res_type, *row) for row in rows)
                total = rid
                if rid % 20000 == 0:
                    flush()
                    print(f"  loaded {rid}", file=sys.stderr)
        flush()
        if postgres:
            conn.execute("SELECT setval(pg_get_serial_sequence('resource', 'rid'), ?)", (total,))
        conn.commit()
    return total


def facts(path: Path, sample: int = 3000) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(1)
    found: dict[str, list[dict[str, Any]]] = {"patient": [], "observation": [], "condition": [], "encounter": []}
    with path.open("rb") as lines:
        for line in lines:
            if rng.random() > 0.05:
                continue
            r = orjson.loads(line)
            t = r["resourceType"]
            if t == "Patient":
                name = r["name"][0]
                found["patient"].append({"id": r["id"], "bsn": r["identifier"][0]["value"], "family": name["family"],
                                         "given": name["given"][0], "birthDate": r["birthDate"]})
            elif t == "Observation" and "subject" in r and "effectiveDateTime" in r:
                found["observation"].append({"patient": r["subject"]["reference"], "code": r["code"]["coding"][0]["code"],
                                             "date": r["effectiveDateTime"]})
            elif t == "Condition":
                found["condition"].append({"patient": r["subject"]["reference"], "code": r["code"]["coding"][0]["code"]})
            elif t == "Encounter" and "period" in r:
                found["encounter"].append({"start": r["period"]["start"][:10]})
    return found


# -- shapes -------------------------------------------------------------------------------------

Shape = Callable[[random.Random, dict], tuple[str, list[tuple[str, str]], dict]]


def _p(rng: random.Random, f: dict, kind: str) -> dict:
    return rng.choice(f[kind])


def _week(rng: random.Random, f: dict) -> tuple[str, str]:
    day = _p(rng, f, "encounter")["start"]
    lo = date_range(day)[0]
    import datetime as dt

    start = dt.date.fromisoformat(day)
    return start.isoformat(), (start + dt.timedelta(days=7)).isoformat()


SHAPES: dict[str, Shape] = {
    "Patient?identifier=bsn": lambda r, f: ("Patient", [("identifier", f"{BSN}|{_p(r, f, 'patient')['bsn']}")], {}),
    "Patient?family": lambda r, f: ("Patient", [("family", _p(r, f, "patient")["family"])], {}),
    "Patient?name+given": lambda r, f: (lambda p: ("Patient", [("name", p["family"]), ("given", p["given"])], {}))(
        _p(r, f, "patient")
    ),
    "Patient?birthdate year range": lambda r, f: (
        lambda y: ("Patient", [("birthdate", f"ge{y}-01-01"), ("birthdate", f"lt{y + 1}-01-01")], {})
    )(r.randint(1936, 1993)),
    "Patient?birthdate eq day": lambda r, f: ("Patient", [("birthdate", _p(r, f, "patient")["birthDate"])], {}),
    "Patient?_id": lambda r, f: ("Patient", [("_id", _p(r, f, "patient")["id"])], {}),
    "Patient? (no filter)": lambda r, f: ("Patient", [], {}),
    "Patient?family&_sort=birthdate": lambda r, f: (
        "Patient", [("family", _p(r, f, "patient")["family"]), ("_sort", "birthdate")], {}
    ),
    "Observation?patient+code": lambda r, f: (
        lambda o: ("Observation", [("patient", o["patient"]), ("code", f"{LOINC}|{o['code']}")], {})
    )(_p(r, f, "observation")),
    "Observation?patient+code+date": lambda r, f: (
        lambda o: (
            "Observation",
            [("patient", o["patient"]), ("code", f"{LOINC}|{o['code']}"), ("date", f"ge{o['date'][:4]}-01-01")],
            {},
        )
    )(_p(r, f, "observation")),
    "Observation?code&_sort=-date": lambda r, f: (
        "Observation", [("code", f"{LOINC}|{_p(r, f, 'observation')['code']}"), ("_sort", "-date")], {}
    ),
    "Condition?patient": lambda r, f: ("Condition", [("patient", _p(r, f, "condition")["patient"])], {}),
    "Encounter?date (one week)": lambda r, f: (
        lambda w: ("Encounter", [("date", f"ge{w[0]}"), ("date", f"lt{w[1]}")], {})
    )(_week(r, f)),
    "Observation?subject&_include=subject": lambda r, f: (
        "Observation", [("subject", _p(r, f, "observation")["patient"]), ("_include", "Observation:subject")], {}
    ),
    "Patient?_id&_revinclude=Condition:subject": lambda r, f: (
        "Patient", [("_id", _p(r, f, "patient")["id"]), ("_revinclude", "Condition:subject")], {}
    ),
    "Observation?subject:Patient.identifier (chain)": lambda r, f: (
        "Observation", [("subject:Patient.identifier", f"{BSN}|{_p(r, f, 'patient')['bsn']}")], {}
    ),
    "Observation?patient.family+code (chain, broad)": lambda r, f: (
        "Observation", [("patient.family", _p(r, f, "patient")["family"]), ("code", f"{LOINC}|85354-9")], {}
    ),
    "Patient?_has:Condition:patient:code": lambda r, f: (
        "Patient", [("_has:Condition:patient:code", f"{SNOMED}|{_p(r, f, 'condition')['code']}")], {}
    ),
    "Patient/x/Observation (compartment)": lambda r, f: (
        "Observation", [], {"compartment": ("Patient", _p(r, f, "patient")["id"])}
    ),
    "Observation?_lastUpdated=gt (recent)": lambda r, f: (
        "Observation", [("_lastUpdated", "gt" + time.strftime("%Y-%m-%d", time.gmtime(now_ms() / 1000 - 86400 * 2)))], {}
    ),
}


def run_shapes(database: Database, model: Model, found: dict, runs: int, explain: bool, only: str | None) -> None:
    with database.connection() as conn:
        for name, shape in SHAPES.items():
            if only and only not in name:
                continue
            rng = random.Random(42)
            times, hits = [], []
            for i in range(runs + 5):
                res_type, params, options = shape(rng, found)
                t0 = time.perf_counter()
                conn.begin(write=False)  # as Store.session does
                query = parse_search(model, res_type, params, **options)
                result = run_search(conn, model, query)
                conn.rollback()
                elapsed = (time.perf_counter() - t0) * 1000
                if i >= 5:  # warm-up
                    times.append(elapsed)
                    hits.append(len(result.matches) + len(result.included))
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"{name:50s} p50 {statistics.median(times):7.2f} ms  p95 {p95:7.2f} ms  hits {statistics.mean(hits):6.1f}")
            if explain:
                res_type, params, options = shape(random.Random(42), found)
                query = parse_search(model, res_type, params, **options)
                conn.begin(write=False)
                probe = _probe(conn) if measures_filters(conn.dialect) else None
                compiled = compile_query(conn.dialect, query, frozenset(model.resource_types), probe)
                sql, args = compiled.page(TOTAL_CAP + 1, 0)
                conn.rollback()
                prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
                conn.begin(write=False)
                conn.plan_each_statement()
                for row in conn.execute(prefix + sql, args):
                    print("      ", row[-1] if conn.dialect.name == "sqlite" else row[0])
                conn.rollback()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--analyze-sqlite", action="store_true", help="run ANALYZE on the SQLite file first")
    parser.add_argument("--shape", default=None, help="only shapes whose name contains this")
    parser.add_argument("--sqlite-path", default=None, help="the SQLite file (default: in the data folder)")
    parser.add_argument("--postgres-url", default=os.environ.get("SAMEN_BENCH_POSTGRES_URL"))
    args = parser.parse_args()

    folder = Path(tempfile.gettempdir()) / "samen-search-bench" / str(args.patients)
    path = generate(folder, args.patients)
    model = Model.load()
    found = facts(path)

    if "sqlite" in args.engines:
        db_path = Path(args.sqlite_path) if args.sqlite_path else folder / "search.db"
        fresh = not db_path.exists()
        database = open_database(str(db_path))
        if fresh:
            database.migrate()
            t0 = time.time()
            n = load(database, model, path)
            print(f"sqlite: loaded {n} resources in {time.time() - t0:.0f} s", file=sys.stderr)
        if args.analyze_sqlite:
            with database.connection() as conn:
                conn.execute("ANALYZE")
        print(f"== SQLite ({'with' if args.analyze_sqlite else 'without'} ANALYZE)")
        run_shapes(database, model, found, args.runs, args.explain, args.shape)
        database.close()

    if "postgres" in args.engines:
        url = args.postgres_url
        server = None
        if url is None:
            import pg_server

            pg_server.begin_run()
            server = pg_server.session_server()
            url = server.create_database()
        try:
            database = open_database(url)
            database.migrate()
            with database.connection() as conn:
                empty = conn.execute("SELECT count(*) FROM resource")[0][0] == 0
            if empty:
                t0 = time.time()
                n = load(database, model, path)
                with database.connection() as conn:
                    conn.execute("ANALYZE")
                print(f"postgres: loaded {n} resources in {time.time() - t0:.0f} s", file=sys.stderr)
            print("== PostgreSQL")
            run_shapes(database, model, found, args.runs, args.explain, args.shape)
            database.close()
        finally:
            if server is not None:
                import pg_server

                pg_server.end_run()


if __name__ == "__main__":
    main()
