"""BgZ retrieval across four custodians against the slowest single custodian, and the p50 of a whole BgZ.

All roles run locally on loopback in this process (tests/exchange/bgz_network.py: pseudonymiser, index, query
directory, consent registry, the requesting hospital and four custodians on SQLite, each a uvicorn server in a
thread, so they share one interpreter and the machine's cores). Every custodian holds a typical record of the
person (``--labs`` laboratory results and the record of the tests: problems, allergy, medication, vital signs);
the nursing home asks the consent registry, where the person said yes.

- ratio: the median of fetching the query set from all four custodians at once, over the median of the slowest
  custodian fetched alone (same code path: ``Retrieval.fetch_all``); target <= 1.5;
- p50 of ``Exchange.bgz`` (localization, directory, tokens, queries, merge); target <= 500 ms.

    .venv/bin/python bench/bgz_retrieval.py [--rounds 30] [--labs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# the test network's modules import auth.orgs: this folder's auth.py must not hide the tests' auth folder
sys.path[:] = [str(ROOT / "tests"), str(ROOT / "tests" / "exchange"),
               *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from auth.orgs import TEST_BSN  # noqa: E402
from bgz_network import LOINC, NURSING_URA, RECORDS, SUBJECT, network  # noqa: E402

from samen import logs  # noqa: E402
from samen.api.messages import FhirRequest  # noqa: E402
from samen.auth.enforcement import OPERATOR_CONTEXT  # noqa: E402
from samen.auth.policy import BGZ  # noqa: E402
from samen.consent import catalogue  # noqa: E402
from samen.consent.choices import ANY, Choice, consent_resource  # noqa: E402
from samen.exchange.bgz import BGZ_SCOPES  # noqa: E402
from samen.exchange.bgz_queries import SECTIONS  # noqa: E402
from samen.exchange.retrieval import Ask  # noqa: E402
from samen.fhir.model import Model  # noqa: E402
from samen.sample import BSN  # noqa: E402


def lab(n: int, subject: dict[str, Any] = SUBJECT) -> dict[str, Any]:
    """A laboratory result (glucose) of ``subject``; ``n`` varies its date and value."""
    return {"resourceType": "Observation", "status": "final", "subject": subject,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose"}]},
            "effectiveDateTime": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00+01:00",
            "valueQuantity": {"value": 5 + n / 10, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                              "code": "mmol/L"}}


def consent_yes(registry: Any) -> None:
    """The person permits the nursing home's category to release everything to anyone."""
    choice = Choice(catalogue.holder_category("X3") or "", ANY, ANY, True)
    consent = consent_resource("x", TEST_BSN, choice, "2026-11-23T10:00:00+01:00")
    consent["patient"] = {"identifier": {"system": BSN, "value": TEST_BSN}}
    response = registry.router.handle(FhirRequest("POST", "Consent", body=consent, access=OPERATOR_CONTEXT,
                                                  base_url=registry.settings.base_url))
    assert response.status == 201, response.payload()


def timed(call: Any, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--labs", type=int, default=40, help="laboratory results per custodian")
    args = parser.parse_args()
    logs.configure("warning")
    records = {ura: [*resources, *(lab(n + 1000 * i) for n in range(args.labs))]  # each custodian its own results
               for i, (ura, resources) in enumerate(RECORDS.items())}
    with tempfile.TemporaryDirectory() as folder, \
            network(Path(folder), str(Path(folder) / "requester.db"), Model.load(), records=records) as net:
        consent_yes(net.registry)
        exchange = net.requester.services["exchange"]
        attestation = net.attestation()
        ask = Ask(TEST_BSN, BGZ, BGZ_SCOPES, attestation, SECTIONS)
        uras = list(net.custodians)

        def fetch(selected: list[str]) -> None:
            answers = asyncio.run(exchange.retrieval.fetch_all(selected, ask, 30.0))
            assert all(a.status == "ok" for a in answers), [(a.custodian.ura, a.status, a.reason) for a in answers]

        result = exchange.bgz(TEST_BSN, attestation=attestation)  # warm up: tokens, directory answers, caches
        assert all(r.status == "ok" for r in result.custodians), result.custodians
        entries = sum(len(s.entries) for s in result.sections)
        for ura in uras:
            fetch([ura])
        single = {ura: statistics.median(timed(lambda u=ura: fetch([u]), args.rounds)) for ura in uras}
        together = statistics.median(timed(lambda: fetch(uras), args.rounds))
        whole = timed(lambda: exchange.bgz(TEST_BSN, attestation=attestation), args.rounds)
    slowest = max(single, key=single.__getitem__)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"record: {args.labs} lab results + {len(RECORDS[uras[0]])} other resources per custodian; "
          f"merged BgZ {entries} entries; nursing home {NURSING_URA} asks the consent registry")
    for ura, ms in single.items():
        print(f"  one custodian {ura}: median {ms:.1f} ms")
    print(f"four custodians at once: median {together:.1f} ms = {together / single[slowest]:.2f}x the slowest single "
          f"({single[slowest]:.1f} ms) [target <= 1.5x]")
    print(f"whole BgZ (localization, directory, tokens, queries, merge): p50 {statistics.median(whole):.1f} ms, "
          f"p90 {sorted(whole)[int(len(whole) * 0.9) - 1]:.1f} ms [target p50 <= 500 ms]")


if __name__ == "__main__":
    main()
