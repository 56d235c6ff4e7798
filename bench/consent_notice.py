"""The cost of the shared consent notice on a kept consent answer, in-process, on SQLite and PostgreSQL.

A data holder's worker uses a kept answer only after reading the person's last change notice by primary
key (:mod:`samen.consent.notices`), so a notification counts in every worker. This measures
``RegistryConsent.answer`` for a kept answer with and without that read (``--answers`` calls for
random persons among ``--people`` with a notice recorded for half of them); medians and p99 per call,
and the added cost. Target: the read adds well under a millisecond (a consent check over HTTP is ~5 ms).

    .venv/bin/python bench/consent_notice.py [--people 10000] [--answers 20000] [--engine sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import pg_server  # noqa: E402

from samen.auth.consent import ConsentQuestion  # noqa: E402
from samen.consent.holder import RegistryConsent  # noqa: E402
from samen.consent.notices import SharedNotices  # noqa: E402
from samen.fhir.model import Model  # noqa: E402
from samen.store.db import open_database  # noqa: E402
from samen.store.store import Store  # noqa: E402
from samen.synth.bsn import synthetic_bsn  # noqa: E402

QUESTION = ConsentQuestion("", "20000001", "ziekenhuis", "behandelgegevens", "30000001", "huisarts", "bgz")


class _Tokens:
    def token(self, request: object) -> str:
        return "token"

    def forget(self, request: object) -> None:
        pass


def _registry() -> httpx.Client:
    permit = {"resourceType": "Parameters", "parameter": [{"name": "decision", "valueCode": "permit"},
                                                          {"name": "rule", "valueString": "yes"}]}
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=permit)))


def _timed(consent: RegistryConsent, questions: list[ConsentQuestion]) -> list[float]:
    for question in questions:  # fill the cache: every later call is a kept answer
        consent.answer(question)
    spent = []
    for question in questions:
        start = time.perf_counter()
        consent.answer(question)
        spent.append((time.perf_counter() - start) * 1e6)
    return spent


def run(engine: str, db_url: str, options: argparse.Namespace) -> None:
    database = open_database(db_url)
    database.migrate()
    store = Store(database, Model.load())
    notices = SharedNotices(store)
    people = [synthetic_bsn(9, i) for i in range(options.people)]
    for bsn in people[::2]:
        notices.record(bsn)
    rng = random.Random(7)
    questions = [dataclasses.replace(QUESTION, patient_bsn=rng.choice(people)) for _ in range(options.answers)]
    results = {}
    for name, shared in (("process only", None), ("shared notice", notices)):
        consent = RegistryConsent("https://registry.test", _Tokens(), cache_s=300, notices=shared,  # type: ignore[arg-type]
                                  http=_registry())
        spent = sorted(_timed(consent, questions))
        results[name] = (statistics.median(spent), spent[int(len(spent) * 0.99)])
    database.close()
    for name, (median, p99) in results.items():
        print(f"{engine:8} {name:14} median {median:7.1f} us  p99 {p99:7.1f} us")
    added = results["shared notice"][0] - results["process only"][0]
    print(f"{engine:8} added by the notice read: {added:.1f} us per kept answer (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    options = parser.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        if options.engine in ("sqlite", "both"):
            run("sqlite", str(Path(folder) / "holder.db"), options)
        if options.engine in ("postgres", "both"):
            pg_server.begin_run()
            try:
                run("postgres", pg_server.session_server().create_database(), options)
            finally:
                pg_server.end_run()


if __name__ == "__main__":
    main()
