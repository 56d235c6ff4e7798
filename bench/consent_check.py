"""The closed question at 1 million recorded choices, over real HTTP on loopback, on SQLite and PostgreSQL.

1. Migrate a fresh database and load ``--choices`` rows straight into ``consent_choice`` (the compiled
   table the closed question reads: 4 choices per person, a general yes and specific ones), plus
   ``--consents`` Consent resources through the store's bulk write (``put_many``, which runs the
   registry's write observer, so those are compiled exactly as a PGO's would be). Loading a million
   full Consent resources would take the 2-core machine most of an hour and adds nothing the question
   reads: it reads ``consent_choice`` by primary key, whatever the size of the resource tables.
2. ``samen serve --role consent-registry --workers N`` on it, with real keys and a trust list.
3. ``--questions`` sequential ``POST $consent-check`` from a GP's token (purpose consent-check) for
   random loaded persons (and 10% without any choice); p50/p99/max. Target: p99 <= 5 ms.

    .venv/bin/python bench/consent_check.py [--choices 1000000] [--questions 5000] [--engine sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "auth"))

import pg_server  # noqa: E402
from orgs import Organisation, get_token, write_trust_list  # noqa: E402
from run import Server  # noqa: E402

from samen.consent import choices  # noqa: E402
from samen.node import Node  # noqa: E402
from samen.sample import BSN, elfproef  # noqa: E402
from samen.settings import Settings  # noqa: E402

REGISTRY_URA, GP_URA = "90000801", "11110001"
PER_PERSON = (  # (data, requester, permit): a general yes and three specific choices
    ("*", "*", 1), ("medicatiegegevens", "*", 0), ("behandelgegevens", "ziekenhuis", 1), ("*", "ggz", 0),
)
BATCH = 20_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bsns(count: int) -> list[str]:
    """``count`` distinct synthetic BSNs (9 series) that pass the elfproef."""
    found: list[str] = []
    candidate = 900_000_000
    while len(found) < count:
        candidate += 1
        if elfproef(str(candidate)):
            found.append(str(candidate))
    return found


def load(db_url: str, persons: list[str], consents: int) -> None:
    node = Node.open(db_url, Settings(roles=("consent-registry",)))
    try:
        started = time.monotonic()
        now = int(time.time() * 1000)
        rows = [(bsn, "huisarts", data, requester, f"bulk-{i}-{j}", permit, now)
                for i, bsn in enumerate(persons) for j, (data, requester, permit) in enumerate(PER_PERSON)]
        for start in range(0, len(rows), BATCH):
            with node.store.session(write=True) as session:
                session.conn.insert_many("consent_choice", ["bsn", "holder_category", "data_category",
                                                            "requester_category", "consent_id", "permit",
                                                            "updated_ms"], rows[start:start + BATCH])
        log(f"{len(rows):,} compiled choices in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        extra = bsns(len(persons) + consents)[len(persons):]  # other people, so the loaded rows stay as they are
        for start in range(0, consents, 1000):
            with node.store.session(write=True) as session:
                resources = []
                for bsn in extra[start:start + 1000]:
                    patient = {"resourceType": "Patient", "id": f"p{bsn}", "identifier": [{"system": BSN, "value": bsn}]}
                    choice = choices.Choice("huisarts", "*", "*", True)
                    resources += [patient, choices.consent_resource(f"p{bsn}", bsn, choice, "2026-11-23T10:00:00Z")]
                session.put_many(resources)
        log(f"{consents:,} Consent resources (and their Patients) in {time.monotonic() - started:.0f} s")
        with node.store.session(write=True) as session:
            session.conn.refresh_statistics()
    finally:
        node.close()


def ask(persons: list[str], base: str, token: str, count: int) -> dict:
    rng = random.Random(7)
    nobody = bsns(len(persons) + 20_000)[-10_000:]
    questions = []
    for _ in range(count):
        bsn = rng.choice(nobody) if rng.random() < 0.1 else rng.choice(persons)
        data = rng.choice(("behandelgegevens", "medicatiegegevens"))
        requester = rng.choice(("huisarts", "ziekenhuis", "ggz", "apotheek"))
        questions.append(orjson.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueIdentifier": {"system": BSN, "value": bsn}},
            {"name": "holder-category", "valueCode": "huisarts"},
            {"name": "data-category", "valueCode": data},
            {"name": "requester-category", "valueCode": requester},
            {"name": "purpose", "valueCode": "bgz"}]}))
    timings: list[float] = []
    permits = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(headers=headers, timeout=30) as client:
        for body in questions[:200]:  # warm-up
            client.post(f"{base}/$consent-check", content=body)
        for body in questions:
            started = time.perf_counter()
            answer = client.post(f"{base}/$consent-check", content=body)
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            permits += answer.json()["parameter"][0]["valueCode"] == "permit"
    timings.sort()
    return {"questions": count, "permits": permits, "p50_ms": round(timings[len(timings) // 2], 2),
            "p99_ms": round(timings[int(len(timings) * 0.99)], 2), "max_ms": round(timings[-1], 2),
            "mean_ms": round(statistics.mean(timings), 2)}


def run_engine(engine: str, folder: Path, persons: list[str], options: argparse.Namespace) -> dict:
    db_url = str(folder / "registry.db") if engine == "sqlite" else pg_server.session_server().create_database()
    load(db_url, persons, options.consents)
    registry, gp = (Organisation.create(folder, ura, name, kind) for ura, name, kind in
                    ((REGISTRY_URA, "Register", "ZG"), (GP_URA, "Huisarts", "Z3")))
    trust = write_trust_list(folder / f"trust-{engine}.json", [gp.entry()])
    server = Server(db_url, options.workers, folder / f"registry-{engine}.log",
                    ["--log-level", "warning", "--role", "consent-registry", "--keys", str(registry.keys.directory),
                     "--trust-list", str(trust), "--ura", REGISTRY_URA])
    try:
        token = get_token(server.base, gp, scopes="system/*.rs", purpose="consent-check")
        result = ask(persons, server.base, token, options.questions)
    finally:
        server.stop()
    log(f"{engine}: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choices", type=int, default=1_000_000)
    parser.add_argument("--consents", type=int, default=20_000, help="Consent resources written through the store")
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / f"consent-check-{time.strftime('%Y%m%d-%H%M%S')}.json")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="samen-bench-consent-"))
    persons = bsns(options.choices // len(PER_PERSON))
    engines = ("sqlite", "postgres") if options.engine == "both" else (options.engine,)
    pg_server.begin_run()
    try:
        results = {engine: run_engine(engine, folder / engine, persons, options) for engine in engines
                   if (folder / engine).mkdir(parents=True) is None}
    finally:
        pg_server.end_run()
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
              "cpus": os.cpu_count(), "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
              "choices": len(persons) * len(PER_PERSON), "consents": options.consents, "workers": options.workers,
              "results": results}
    print(json.dumps(report, indent=2))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
