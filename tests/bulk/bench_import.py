"""Measure `samen import` speed on a generated file of small Patient/Observation resources.

    .venv/bin/python tests/bulk/bench_import.py [--count 20000] [--engine sqlite|postgres|both]

PostgreSQL runs on a throwaway server (tests/pg_server.py), or $SAMEN_TEST_POSTGRES_URL's.
Prints resources per second as `samen import` reports it (the import itself, not the file hashing).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for pg_server

import pg_server  # noqa: E402

from samen.cli import main  # noqa: E402

LOINC = [("8867-4", "Heart rate", "/min"), ("8310-5", "Body temperature", "Cel"), ("29463-7", "Body weight", "kg")]


def generate(path: Path, count: int, seed: int = 1) -> Path:
    """``count`` resources: half Patients, half Observations about them, one per line."""
    rng = random.Random(seed)
    patients = count // 2
    with open(path, "wb") as handle:
        for i in range(patients):
            handle.write(orjson.dumps({
                "resourceType": "Patient", "id": f"pat-{i}",
                "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": f"{100000000 + i}"}],
                "name": [{"family": rng.choice(["Jansen", "de Vries", "Bakker", "Visser"]), "given": ["Anna"]}],
                "gender": rng.choice(["male", "female"]),
                "birthDate": f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            }) + b"\n")
        for i in range(count - patients):
            code, display, unit = rng.choice(LOINC)
            handle.write(orjson.dumps({
                "resourceType": "Observation", "id": f"obs-{i}", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                "subject": {"reference": f"Patient/pat-{rng.randrange(patients)}"},
                "effectiveDateTime": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
                "valueQuantity": {"value": round(rng.uniform(30, 120), 1), "unit": unit,
                                  "system": "http://unitsofmeasure.org", "code": unit},
            }) + b"\n")
    return path


def measure(db_url: str, source: Path) -> str:
    started = time.monotonic()
    result = CliRunner().invoke(main, ["import", str(source), "--db", db_url, "--no-progress"], catch_exceptions=False)
    wall = time.monotonic() - started
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return f"{result.output.strip()} [wall clock with setup {wall:.1f} s]"


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = generate(Path(tmp) / "resources.ndjson", args.count)
        if args.engine in ("sqlite", "both"):
            print("sqlite:  ", measure(str(Path(tmp) / "bench.db"), source))
        if args.engine in ("postgres", "both"):
            pg_server.begin_run()
            try:
                server = pg_server.session_server()
                url = server.create_database()
                try:
                    print("postgres:", measure(url, source))
                finally:
                    server.drop_database(url)
            finally:
                pg_server.end_run()


if __name__ == "__main__":
    main_()
