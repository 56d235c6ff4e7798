"""Localization index at national scale: 10 million registrations on PostgreSQL, served over real HTTP.

1. Start a throwaway PostgreSQL server (tests/pg_server.py), migrate a database and load the
   registrations with COPY into the index's own table (the unique key and primary key are built after
   the load, as a bulk load would), for ``--persons`` people with 1 to 4 registrations each.
2. ``samen serve --role localization-index --workers 2`` on it, with real keys and a trust list.
3. (a) search by person: ``--searches`` sequential ``GET List?subject:identifier=...`` of random
   loaded persons, each with a fresh transport token; p50/p99.
   (b) registration: ``--clients`` concurrent custodians POST transaction Bundles of ``--bundle``
   Lists for new persons; registrations per second, ``--rounds`` times (new persons each round), median.

The benchmark plays the pseudonymiser (it seals pseudonyms to the index's key itself, before timing),
so only the index is measured. Targets: search p99 <= 20 ms, >= 2,000 registrations/s.

    .venv/bin/python bench/localization.py [--persons 4000000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
from joserfc.jwk import ECKey

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "auth"))

import pg_server  # noqa: E402
from orgs import Organisation, get_token, write_trust_list  # noqa: E402
from run import Server  # noqa: E402

from samen.directory.categories import categories  # noqa: E402
from samen.directory.localization_client import registration_list  # noqa: E402
from samen.directory.pseudonyms import (  # noqa: E402
    TOKEN_SYSTEM,
    load_or_create_encryption_key,
    public_encryption_jwks,
    seal,
)
from samen.store.db import open_database  # noqa: E402

NVI_URA = "90000901"
CUSTODIANS = ("11110001", "22220002", "33330003", "44440004")
REQUESTER = "55550005"
CATEGORIES = [c.code for c in categories()]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pseudonym(key: bytes, person: int) -> bytes:
    return hmac.new(key, str(person).encode(), hashlib.sha256).digest()


def person_rows(key: bytes, person: int, now: int) -> list[tuple]:
    """1 to 4 registrations, each at another custodian, of varied categories."""
    p = pseudonym(key, person)
    return [(str(uuid.uuid4()), p, CATEGORIES[(person + 7 * j) % len(CATEGORIES)], CUSTODIANS[j], now)
            for j in range(1 + person % 4)]


def load(db_url: str, key: bytes, persons: int) -> int:
    import psycopg

    database = open_database(db_url)
    database.migrate()
    database.close()
    now = int(time.time() * 1000)
    total = 0
    started = time.monotonic()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE nvi_registration DROP CONSTRAINT nvi_registration_pkey")
        conn.execute("DROP INDEX nvi_registration_key")
        with conn.cursor() as cursor, cursor.copy(
                "COPY nvi_registration (id, pseudonym, category, custodian, registered) FROM STDIN") as copy:
            for person in range(persons):
                for row in person_rows(key, person, now):
                    copy.write_row(row)
                    total += 1
                if person % 500_000 == 0 and person:
                    log(f"  {total:,} rows copied ({total / (time.monotonic() - started):,.0f}/s)")
        log(f"copied {total:,} rows in {time.monotonic() - started:.0f} s; building the indexes")
        conn.execute("ALTER TABLE nvi_registration ADD PRIMARY KEY (id)")
        conn.execute("CREATE UNIQUE INDEX nvi_registration_key ON nvi_registration (pseudonym, category, custodian)")
        conn.execute("VACUUM ANALYZE nvi_registration")
    log(f"loaded and indexed in {time.monotonic() - started:.0f} s")
    return total


def search_latency(base: str, token: str, public: ECKey, key: bytes, persons: int, count: int) -> dict:
    rng = random.Random(7)
    chosen = [rng.randrange(persons) for _ in range(count)]
    tokens = [seal(pseudonym(key, person), public) for person in chosen]
    timings: list[float] = []
    found = 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for warm in tokens[:100]:
            client.get(f"{base}/List", params={"subject:identifier": f"{TOKEN_SYSTEM}|{warm}"})
        for person, value in zip(chosen, tokens, strict=True):
            started = time.perf_counter()
            answer = client.get(f"{base}/List", params={"subject:identifier": f"{TOKEN_SYSTEM}|{value}"})
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            total = answer.json()["total"]
            assert total == 1 + person % 4, (person, total)
            found += total
    timings.sort()
    return {"searches": count, "p50_ms": round(timings[len(timings) // 2], 2),
            "p99_ms": round(timings[int(len(timings) * 0.99)], 2), "max_ms": round(timings[-1], 2),
            "mean_ms": round(statistics.mean(timings), 2), "registrations_found": found}


def registration_throughput(base: str, tokens: dict[str, str], public: ECKey, key: bytes, first_person: int,
                            clients: int, bundles: int, size: int) -> dict:
    log(f"sealing {clients * bundles * size:,} transport tokens for the registration run")
    bodies: list[list[bytes]] = []
    person = first_person
    for c in range(clients):
        custodian = CUSTODIANS[c % len(CUSTODIANS)]
        mine = []
        for _ in range(bundles):
            entries = []
            for _ in range(size):
                token = seal(pseudonym(key, person), public)
                entries.append({"resource": registration_list(token, CATEGORIES[person % len(CATEGORIES)], custodian),
                                "request": {"method": "POST", "url": "List"}})
                person += 1
            mine.append(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
        bodies.append(mine)
    errors: list[str] = []

    def run(c: int) -> None:
        custodian = CUSTODIANS[c % len(CUSTODIANS)]
        headers = {"Authorization": f"Bearer {tokens[custodian]}", "Content-Type": "application/fhir+json"}
        with httpx.Client(headers=headers, timeout=120) as client:
            for body in bodies[c]:
                answer = client.post(base, content=body)
                if answer.status_code != 200:
                    errors.append(answer.text[:300])

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    assert not errors, errors[:3]
    registrations = clients * bundles * size
    return {"clients": clients, "bundle_size": size, "registrations": registrations, "seconds": round(seconds, 2),
            "per_second": round(registrations / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=4_000_000, help="people loaded (10M registrations at 4M)")
    parser.add_argument("--searches", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bundles", type=int, default=10, help="Bundles per client")
    parser.add_argument("--bundle", type=int, default=250, help="Lists per Bundle")
    parser.add_argument("--rounds", type=int, default=3, help="registration runs (median reported)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=BENCH / "results" / f"localization-{time.strftime('%Y%m%d-%H%M%S')}.json")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="samen-bench-localization-"))
    pg_server.begin_run()
    server = None
    try:
        pg = pg_server.session_server()
        db_url = pg.create_database()
        orgs = {ura: Organisation.create(folder, ura, f"Org {ura}", "V4") for ura in (NVI_URA, *CUSTODIANS, REQUESTER)}
        index_key = load_or_create_encryption_key(orgs[NVI_URA].keys.directory)
        public = ECKey.import_key(public_encryption_jwks(index_key)["keys"][0])
        key = os.urandom(32)  # the benchmark's stand-in for the pseudonymiser's derived key for the index
        rows = load(db_url, key, options.persons)
        trust = write_trust_list(folder / "trust.json", [org.entry() for org in orgs.values()])
        server = Server(db_url, options.workers, folder / "index.log",
                        ["--log-level", "warning", "--role", "localization-index",
                         "--keys", str(orgs[NVI_URA].keys.directory), "--trust-list", str(trust)])
        base = server.base
        search_token = get_token(base, orgs[REQUESTER], scopes="system/List.rs", purpose="localization-search")
        register_tokens = {ura: get_token(base, orgs[ura], scopes="system/List.cruds", purpose="localization-register")
                           for ura in CUSTODIANS}
        log(f"search: {options.searches} persons")
        search = search_latency(base, search_token, public, key, options.persons, options.searches)
        log(f"search: {search}")
        rounds = []
        for round_ in range(options.rounds):
            first = options.persons + round_ * options.clients * options.bundles * options.bundle
            rounds.append(registration_throughput(base, register_tokens, public, key, first, options.clients,
                                                  options.bundles, options.bundle))
            log(f"registration round {round_ + 1} (load {os.getloadavg()[0]:.1f}): {rounds[-1]}")
        register = {"rounds": rounds, "median_per_second": statistics.median(r["per_second"] for r in rounds)}
        log(f"registration: median {register['median_per_second']}/s")
        report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
                  "cpus": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows, "persons": options.persons,
                  "workers": options.workers, "search": search, "registration": register}
        print(json.dumps(report, indent=2))
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(report, indent=2) + "\n")
    finally:
        if server is not None:
            server.stop()
        pg_server.end_run()


if __name__ == "__main__":
    main()
