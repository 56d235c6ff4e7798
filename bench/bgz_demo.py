"""BgZ retrieval on the demo network, every node its own ``samen serve`` process (issue 8, point 7).

The network is ``samen demo``'s (samen.demo.network.DemoNetwork: national roles, identity providers and five
care providers on loopback, SQLite, tokens everywhere, synthetic data). The person is the demo's first, whose
data four custodians hold (a GP practice, the pharmacy, the hospital, the nursing home) and who said yes to all;
the requester is that person's GP practice, with a GP logged in at the professional IdP (the attestation).
The synthetic record is thin (a few resources per custodian); ``--labs N`` adds N laboratory results of the person
to each custodian (``samen import`` while the network is stopped, once per folder), as ``bgz_retrieval.py`` does.

- ratio: this process retrieves as the GP practice (its keys, the same Exchange service the node runs) from the
  custodian processes over HTTP: the query set from each custodian alone, and from all four at once
  (``Retrieval.fetch_all``); the median of all four over the median of the slowest alone; target <= 1.5;
- the whole BgZ as the clinician gets it: ``POST [GP node]/$bgz`` over HTTP (localization, directory, tokens,
  the four custodians, merge, the Bundle); p50 and p90; target p50 <= 500 ms.

The rounds interleave the measurements (each round: each custodian alone, all four, one ``$bgz``), so a change of
the machine's load falls on all of them alike. The network's setup is not timed: the first run in a folder sets it
up (about 2 minutes), later runs reuse it.

    .venv/bin/python bench/bgz_demo.py [--dir /tmp/bgz-bench/demo] [--port 27400] [--rounds 30] [--labs 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# the demo tests' helpers import auth.orgs: this folder's auth.py must not hide the tests' auth folder (a namespace
# package), so this folder joins the path only once auth.orgs is imported (for bgz_retrieval's lab results)
sys.path[:] = [str(ROOT / "tests"), str(ROOT / "tests" / "demo"),
               *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import httpx  # noqa: E402
import orjson  # noqa: E402
from auth.orgs import get_token  # noqa: E402
from demo_helpers import attestation, organisation, professional  # noqa: E402

sys.path.append(str(ROOT / "bench"))
from bgz_retrieval import lab  # noqa: E402

from samen import logs  # noqa: E402
from samen.auth.keys import KeyStore  # noqa: E402
from samen.auth.policy import BGZ  # noqa: E402
from samen.demo import plan as plans  # noqa: E402
from samen.demo.network import DemoNetwork  # noqa: E402
from samen.demo.plan import MIN_PEOPLE, Plan  # noqa: E402
from samen.demo.processes import samen_command  # noqa: E402
from samen.exchange.bgz import BGZ_SCOPES, Exchange  # noqa: E402
from samen.exchange.bgz_queries import SECTIONS  # noqa: E402
from samen.exchange.retrieval import Ask  # noqa: E402
from samen.sample import BSN  # noqa: E402
from samen.settings import Settings  # noqa: E402

GP_ROLE = "01.015"  # huisarts
TIMEOUT_S = 30.0
RENEW_AFTER_S = 120  # attestation and token of the clinician's session are renewed (untimed) before they expire


class Clinician:
    """The GP's session: an attestation from the professional IdP and a token of the GP's own node for ``$bgz``."""

    def __init__(self, plan: Plan, key: str, bsn: str) -> None:
        self.plan, self.key, self.bsn = plan, key, bsn
        self.uzi = professional(plan, key, GP_ROLE)
        self.http = httpx.Client(timeout=TIMEOUT_S * 2)
        self.since = 0.0
        self.renew()

    def renew(self) -> None:
        self.attestation = attestation(self.plan, self.key, self.uzi)
        self.token = get_token(self.plan.org(self.key).base_url, organisation(self.plan, self.key),
                               scopes="system/Patient.rs", purpose=BGZ, patient=self.bsn,
                               professional=self.attestation)
        self.since = time.monotonic()

    def stale(self) -> bool:
        return time.monotonic() - self.since > RENEW_AFTER_S

    def bgz(self) -> dict[str, Any]:
        """``POST [base]/$bgz``: the merged Bundle (raises when it is not a 200)."""
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueString": self.bsn}, {"name": "attestation", "valueString": self.attestation}]}
        answer = self.http.post(f"{self.plan.org(self.key).base_url}/$bgz", json=body,
                                headers={"Authorization": f"Bearer {self.token}"})
        answer.raise_for_status()
        return answer.json()


def requester_exchange(plan: Plan, key: str) -> Exchange:
    """The Exchange service as node ``key`` runs it (its keys, the demo's national services), in this process."""
    org = plan.org(key)
    settings = Settings(base_url=org.base_url, keys_dir=str(plan.keys(org)), trust_list=str(plan.trust_list),
                        query_directory=plan.org("query-directory").base_url,
                        localization_index=plan.org("localization-index").base_url,
                        pseudonymiser=plan.org("pseudonymiser").base_url, exchange_timeout_s=TIMEOUT_S)
    return Exchange(settings, KeyStore(plan.keys(org)))


def patient_id(patients: Path, bsn: str) -> str:
    """The id of the Patient with ``bsn`` in a synth ``Patient.ndjson``."""
    for line in patients.read_bytes().splitlines():
        patient = orjson.loads(line) if line.strip() else {}
        if any(ident.get("system") == BSN and ident.get("value") == bsn for ident in patient.get("identifier", [])):
            return str(patient["id"])
    raise LookupError(f"no Patient with BSN {bsn} in {patients}")


def add_labs(plan: Plan, count: int) -> None:
    """``count`` laboratory results of the first demo person at each of its custodians (the network stopped).
    ``samen import`` skips a file it imported before, so a folder gets them once."""
    person = plan.persons[0]
    for i, key in enumerate(person.custodians):
        org = plan.org(key)
        subject = {"reference": f"Patient/{patient_id(plan.synth_dir / org.folder / 'Patient.ndjson', person.bsn)}"}
        labs = plan.directory / "bench-labs" / key / f"Observation-{count}.ndjson"
        labs.parent.mkdir(parents=True, exist_ok=True)
        labs.write_bytes(b"".join(orjson.dumps({**lab(n + 1000 * i, subject), "id": f"bench-lab-{n}"}) + b"\n"
                                  for n in range(count)))
        subprocess.run([*samen_command(), "import", "--db", str(plan.db(org)), "--base-url", org.base_url,
                        "--no-progress", str(labs)], check=True, capture_output=True, timeout=300)


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()


def measure(plan: Plan, rounds: int) -> None:
    person = plan.persons[0]
    gp = next(key for key in person.custodians if key.startswith("gp-"))
    custodians = {plan.org(key).ura: key for key in person.custodians}
    assert len(custodians) == 4, person.custodians
    clinician = Clinician(plan, gp, person.bsn)
    exchange = requester_exchange(plan, gp)

    def fetch(uras: list[str]) -> list[Any]:
        ask = Ask(person.bsn, BGZ, BGZ_SCOPES, clinician.attestation, SECTIONS)
        answers = asyncio.run(exchange.retrieval.fetch_all(uras, ask, TIMEOUT_S))
        assert all(a.status == "ok" for a in answers), [(a.custodian.ura, a.status, a.reason) for a in answers]
        return answers

    def warm_up() -> None:  # tokens at each custodian, directory answers, the nodes' caches
        for ura in custodians:
            fetch([ura])
        fetch(list(custodians))
        clinician.bgz()

    try:
        warm_up()
        counts = {ura: a.count for ura, a in zip(custodians, fetch(list(custodians)), strict=True)}
        bundle = clinician.bgz()
        entries = sum(e["resource"]["resourceType"] != "OperationOutcome" for e in bundle["entry"])
        print(f"before: {uptime()}", flush=True)
        alone: dict[str, list[float]] = {ura: [] for ura in custodians}
        alone_inside: dict[str, list[float]] = {ura: [] for ura in custodians}  # the custodian's task's own time
        together: list[float] = []
        inside: dict[str, list[float]] = {ura: [] for ura in custodians}  # each custodian's time within all four
        whole: list[float] = []
        for _ in range(rounds):
            if clinician.stale():
                clinician.renew()
                warm_up()
            for ura in custodians:
                single_answer: list[Any] = []
                alone[ura].append(timed(lambda u=ura: single_answer.extend(fetch([u]))))  # type: ignore[misc]
                alone_inside[ura].append(single_answer[0].elapsed_ms)
            answers: list[Any] = []
            together.append(timed(lambda: answers.extend(fetch(list(custodians)))))
            for answer in answers:
                inside[answer.custodian.ura].append(answer.elapsed_ms)
            whole.append(timed(clinician.bgz))
        print(f"after:  {uptime()}")
    finally:
        exchange.close()
        clinician.http.close()

    single = {ura: statistics.median(samples) for ura, samples in alone.items()}
    slowest = max(single, key=single.__getitem__)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{rounds} rounds after a warm-up; requester {gp} ({plan.org(gp).ura}), person {person.bsn}")
    print(f"record: {', '.join(f'{custodians[u]} {n}' for u, n in counts.items())} resources; "
          f"merged BgZ {entries} entries")
    for ura, ms in single.items():
        print(f"  {custodians[ura]:>12} alone: median {ms:6.1f} ms (its task {statistics.median(alone_inside[ura]):6.1f}"
              f" ms); its task within all four {statistics.median(inside[ura]):6.1f} ms")
    ratio = statistics.median(together) / single[slowest]
    print(f"all four at once: median {statistics.median(together):.1f} ms = {ratio:.2f}x the slowest alone "
          f"({custodians[slowest]}, {single[slowest]:.1f} ms) [target <= 1.5x: {'met' if ratio <= 1.5 else 'missed'}]")
    p50 = statistics.median(whole)
    print(f"whole BgZ (POST $bgz at {gp}): p50 {p50:.1f} ms, p90 {p90(whole):.1f} ms, "
          f"min {min(whole):.1f}, max {max(whole):.1f} [target p50 <= 500 ms: {'met' if p50 <= 500 else 'missed'}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bgz-bench/demo"),
                        help="the demo's folder: set up on the first run, reused later")
    parser.add_argument("--port", type=int, default=27400, help="the demo's first port (the folder is tied to it)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--labs", type=int, default=0, help="laboratory results added at each custodian")
    args = parser.parse_args()
    logs.configure("warning")
    if args.labs:
        if plans.load(args.dir) is None:  # the first run: set the network up (and stop it) before the import
            DemoNetwork(args.dir, port=args.port, people=MIN_PEOPLE, say=print).start().stop()
        add_labs(plans.load(args.dir), args.labs)  # type: ignore[arg-type]
    with DemoNetwork(args.dir, port=args.port, people=MIN_PEOPLE, say=print) as network:
        assert network.plan is not None
        measure(network.plan, args.rounds)


if __name__ == "__main__":
    main()
