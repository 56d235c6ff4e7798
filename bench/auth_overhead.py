#!/usr/bin/env python3
"""What authentication and authorization add to a request: in-process microseconds, and reads over HTTP.

In-process (no HTTP), median of --repeats rounds of --count calls each:
- authenticate:      the bearer token (validated once, then from the validator's cache)
- judge:             route + trust list + policy decision (cached), as the router does per request
- decide uncached:   the policy evaluation itself, without its cache
- patient binding:   the compartment check of a read by a patient-bound token (one indexed query)
- total:             authenticate + judge (+ the compartment check, for patient-bound reads)

Over HTTP: the same database served twice by ``samen serve`` (one worker, log level warning), once
``--open`` and once with an identity and a trust list; GET Type/id over one patient's record (the
Patient and its Observations, Conditions, ...), with the token reused as a client does:
- open:   no token
- admin:  the node's own organisation (purpose admin): token and policy, no patient binding
- bgz:    a GP's BgZ token bound to that patient: token, policy and the compartment check of every read
Sequential requests on one keep-alive connection (a Python client) give latency percentiles over the
record; autocannon (--connections, --seconds) on one of its Observations gives throughput. Rounds
alternate between the three so that background load hits them alike; medians over the rounds.

  .venv/bin/python bench/auth_overhead.py [--patients 200] [--requests 2000] [--rounds 3] [--connections 16]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

BENCH = Path(__file__).resolve().parent
AUTOCANNON = str(BENCH / "node_modules" / ".bin" / "autocannon")
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests" / "auth"))

from orgs import Organisation, ProfessionalIdp, get_token, write_trust_list  # noqa: E402
from run import Server  # noqa: E402

from samen import logs  # noqa: E402
from samen.api.messages import FhirRequest  # noqa: E402
from samen.auth.context import AccessContext, Professional  # noqa: E402
from samen.auth.enforcement import OPERATOR_CONTEXT  # noqa: E402
from samen.node import Node  # noqa: E402
from samen.quickstart import load  # noqa: E402
from samen.sample import BSN, sample_bundle  # noqa: E402
from samen.settings import Settings  # noqa: E402


def per_call_us(call: Callable[[], object], count: int, repeats: int) -> float:
    """Median over rounds of the mean duration of ``call()``, in microseconds."""
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            call()
        rounds.append((time.perf_counter() - started) / count * 1e6)
    return round(statistics.median(rounds), 1)


# -- the data and the organisations ------------------------------------------------------------------


class Setup:
    """A database with sample data, the hospital that serves it, a GP practice, a professional IdP."""

    def __init__(self, folder: Path, patients: int) -> None:
        self.db = str(folder / "bench.db")
        self.hospital = Organisation.create(folder, "12345678", "Ziekenhuis Oost", "V4")
        self.practice = Organisation.create(folder, "87654321", "Huisartsenpraktijk De Linde", "Z3")
        self.dezi = ProfessionalIdp.create("https://dezi.test")
        self.trust = write_trust_list(folder / "trust.json", [self.hospital.entry(), self.practice.entry()],
                                      [self.dezi.entry()])
        node = Node.open(self.db, Settings(base_url="http://127.0.0.1:1/fhir"))
        try:
            load(node, sample_bundle(patients, seed=1))
            self.patient_id, self.bsn, self.record = _one_record(node)
        finally:
            node.close()

    def secure_settings(self, base_url: str) -> Settings:
        return Settings(base_url=base_url, keys_dir=str(self.hospital.keys.directory), trust_list=str(self.trust))

    def serve_options(self) -> list[str]:
        return ["--log-level", "warning", "--keys", str(self.hospital.keys.directory), "--trust-list", str(self.trust)]


def _one_record(node: Node) -> tuple[str, str, list[str]]:
    """The first sample patient: its id, its BSN and ``Type/id`` of everything in its compartment."""
    def search(path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        request = FhirRequest("GET", path, params, base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
        return orjson.loads(node.router.handle(request).payload() or b"{}")

    patient = search("Patient", [("_count", "1")])["entry"][0]["resource"]
    bsn = next(i["value"] for i in patient["identifier"] if i["system"] == BSN)
    everything = search(f"Patient/{patient['id']}/Observation", [("_count", "1000")])["entry"]
    everything += search(f"Patient/{patient['id']}/Condition", [("_count", "1000")])["entry"]
    record = [f"Patient/{patient['id']}", *(f"{e['resource']['resourceType']}/{e['resource']['id']}"
                                             for e in everything)]
    return patient["id"], bsn, record


# -- in-process --------------------------------------------------------------------------------------


def in_process(setup: Setup, count: int, repeats: int) -> dict[str, float]:
    base = "http://127.0.0.1:1/fhir"
    node = Node.open(setup.db, setup.secure_settings(base))
    try:
        assert node.auth.issuer is not None
        context = AccessContext("system", frozenset({"system/*.rs"}), client_ura=setup.practice.ura,
                                client_type="Z3", purpose="bgz", patient_bsn=setup.bsn,
                                professional=Professional("900000001", "01.015", setup.practice.ura, "Dr. A"))
        bearer = f"Bearer {node.auth.issuer.issue(context, audience=base)}"
        observation = next(ref for ref in setup.record if ref.startswith("Observation/"))
        router, policy = node.router, node.router.enforcer.policy

        def request() -> FhirRequest:
            return FhirRequest("GET", observation, base_url=base, access=node.auth.authenticate(bearer))

        route, grant = router.judge(request())
        undecided = policy.decide.__wrapped__  # the evaluation without lru_cache

        def check_instance() -> None:
            with node.store.session(write=False) as session:
                grant.check_instance(session, "Observation", observation.split("/")[1])

        def total() -> None:
            _, judged = router.judge(request())
            with node.store.session(write=False) as session:
                judged.check_instance(session, "Observation", observation.split("/")[1])

        def session_only() -> None:
            with node.store.session(write=False):
                pass

        results = {
            "authenticate_us": per_call_us(lambda: node.auth.authenticate(bearer), count, repeats),
            "judge_us": per_call_us(lambda: router.judge(request()), count, repeats),
            "decide_uncached_us": per_call_us(lambda: undecided(context, route.asked), count, repeats),
            "session_us": per_call_us(session_only, count, repeats),
            "patient_binding_check_us": per_call_us(check_instance, count, repeats),
            "total_us": per_call_us(total, count, repeats),
        }
        # what the binding itself costs: the check minus the empty read session it runs in
        results["patient_binding_us"] = round(results["patient_binding_check_us"] - results["session_us"], 1)
        results["validate_and_decide_us"] = round(results["authenticate_us"] + results["judge_us"], 1)
        return results
    finally:
        node.close()


# -- over HTTP ----------------------------------------------------------------------------------------


def sequential(base: str, paths: list[str], token: str | None, count: int) -> dict[str, float]:
    headers = {"Accept": "application/fhir+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    latencies = []
    with httpx.Client(base_url=base + "/", headers=headers, timeout=30) as client:
        for index in range(count + 200):
            started = time.perf_counter()
            answer = client.get(paths[index % len(paths)])
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            if index >= 200:  # warm-up
                latencies.append(elapsed * 1000)
    latencies.sort()
    return {"p50_ms": round(statistics.median(latencies), 3), "p95_ms": round(latencies[int(len(latencies) * 0.95)], 3),
            "mean_ms": round(statistics.fmean(latencies), 3)}


def throughput(url: str, token: str | None, connections: int, seconds: float) -> dict[str, float]:
    """autocannon (bench/node_modules, as bench/run.py installs it) on one URL: requests/s and latency."""
    headers = ["-H", "Accept=application/fhir+json"]
    if token:
        headers += ["-H", f"Authorization=Bearer {token}"]
    done = subprocess.run([AUTOCANNON, "-c", str(connections), "-d", str(seconds), "-j", *headers, url],
                          capture_output=True, check=True, timeout=seconds + 60)
    result = json.loads(done.stdout)
    assert result["non2xx"] == 0 and result["errors"] == 0, result
    latency = result["latency"]
    return {"rps": round(result["requests"]["average"], 1), "load_p50_ms": latency["p50"],
            "load_p99_ms": latency["p99"]}


def over_http(setup: Setup, folder: Path, requests: int, rounds: int, connections: int,
              seconds: float) -> dict[str, Any]:
    open_server = Server(setup.db, 1, folder / "open.log", ["--log-level", "warning", "--open"])
    secure_server = Server(setup.db, 1, folder / "secure.log", setup.serve_options())
    try:
        base = secure_server.base
        tokens = {
            "admin": get_token(base, setup.hospital, scopes="system/*.rs", purpose="admin"),
            "bgz": get_token(base, setup.practice, scopes="system/*.rs", purpose="bgz", patient=setup.bsn,
                             professional=setup.dezi.attestation(setup.practice, role="01.015")),
        }
        cases = {"open": (open_server.base, None), "admin": (base, tokens["admin"]), "bgz": (base, tokens["bgz"])}
        observation = next(ref for ref in setup.record if ref.startswith("Observation/"))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, (url, token) in cases.items():
                result = sequential(url, setup.record, token, requests)
                result |= throughput(f"{url}/{observation}", token, connections, seconds)
                runs[name].append(result)
        summary = {name: {key: round(statistics.median(run[key] for run in results), 3) for key in results[0]}
                   for name, results in runs.items()}
        for name in ("admin", "bgz"):
            summary[name]["p50_added_ms"] = round(summary[name]["p50_ms"] - summary["open"]["p50_ms"], 3)
            summary[name]["rps_ratio"] = round(summary[name]["rps"] / summary["open"]["rps"], 3)
        return {"runs": runs, "summary": summary}
    finally:
        open_server.stop()
        secure_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--count", type=int, default=2000, help="calls per in-process round")
    parser.add_argument("--repeats", type=int, default=5, help="in-process rounds")
    parser.add_argument("--requests", type=int, default=2000, help="sequential HTTP requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16, help="autocannon connections")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each throughput run")
    parser.add_argument("--out", type=Path,
                        default=BENCH / "results" / f"auth-overhead-{time.strftime('%Y%m%d-%H%M%S')}.json")
    options = parser.parse_args()
    logs.configure("warning")
    folder = Path(tempfile.mkdtemp(prefix="samen-bench-auth-overhead-"))
    setup = Setup(folder, options.patients)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
        "cpus": os.cpu_count(), "patients": options.patients, "record": len(setup.record),
        "in_process": in_process(setup, options.count, options.repeats),
        "http": over_http(setup, folder, options.requests, options.rounds, options.connections, options.seconds),
    }
    print(json.dumps({key: value for key, value in report.items() if key != "http"} | {
        "http": report["http"]["summary"]}, indent=2))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
