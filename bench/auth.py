#!/usr/bin/env python3
"""Micro-benchmark of the token machinery, in-process (no HTTP): microseconds per operation.

- issue:            TokenIssuer.issue (one ES256 signature)
- validate cold:    TokenValidator.validate of a token not seen before (header, key lookup, ES256 check,
                    claims, context)
- validate cached:  the same token again (the cache by exact token text)
- authenticate:     authenticate("Bearer ...") of a cached token, as the HTTP layer calls it per request
- token grant:      AuthorizationServer.token of a full client_credentials request (assertion and
                    professional attestation verified, replay cache, token signed)

Each figure is the median of --repeats rounds of --count operations. B's end-to-end benchmark
measures the whole per-request overhead over HTTP.

  .venv/bin/python bench/auth.py [--count 2000] [--repeats 5] [--out bench/results/auth-<time>.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "auth"))  # the test organisations

from orgs import TEST_BSN, Organisation, ProfessionalIdp, write_trust_list  # noqa: E402

from samen import logs  # noqa: E402
from samen.auth.authorization_server import CLIENT_ASSERTION_TYPE, AuthorizationServer  # noqa: E402
from samen.auth.context import AccessContext, Professional  # noqa: E402
from samen.auth.tokens import TokenIssuer, TokenValidator, authenticate  # noqa: E402
from samen.auth.trust import TrustList  # noqa: E402

BASE = "https://oost.test/fhir"
CONTEXT = AccessContext(kind="system", scopes=frozenset({"system/Patient.rs", "system/Observation.rs"}),
                        client_ura="87654321", client_type="Z3",
                        professional=Professional("900000001", "01.015", "87654321", "Dr. A. Jansen"),
                        purpose="bgz", patient_bsn=TEST_BSN)


def per_operation_us(operation: Callable[[int], object], count: int, repeats: int) -> float:
    """Median over rounds of the mean time of ``operation(i)`` for i in 0..count-1, in microseconds."""
    rounds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for index in range(count):
            operation(index)
        rounds.append((time.perf_counter() - started) / count * 1e6)
    return round(statistics.median(rounds), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    count, repeats = options.count, options.repeats
    logs.configure("warning")  # no log line per issued token

    folder = Path(tempfile.mkdtemp(prefix="samen-bench-auth-"))
    hospital = Organisation.create(folder, "12345678", "Ziekenhuis Oost", "V4")
    practice = Organisation.create(folder, "87654321", "Huisartsenpraktijk De Linde", "Z3")
    dezi = ProfessionalIdp.create("https://dezi.test")
    trust = TrustList(write_trust_list(folder / "trust.json", [practice.entry()], [dezi.entry()]))
    issuer, validator = TokenIssuer(hospital.keys, BASE), TokenValidator(hospital.keys, BASE)
    server = AuthorizationServer(BASE, issuer, trust, resource_types={"Patient", "Observation"})

    fresh = [issuer.issue(CONTEXT, audience=BASE) for _ in range(count * repeats)]
    cold = iter(fresh)
    cached = issuer.issue(CONTEXT, audience=BASE)
    validator.validate(cached, audience=BASE)
    forms = iter([[("grant_type", "client_credentials"), ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                   ("client_assertion", practice.assertion(server.token_endpoint)),
                   ("scope", "system/Patient.rs system/Observation.rs"), ("purpose_of_use", "bgz"),
                   ("professional_attestation", dezi.attestation(practice)), ("patient", TEST_BSN)]
                  for _ in range(count // 4 * repeats)])

    def grant(_: int) -> None:
        assert server.token(next(forms)).status == 200

    results = {
        "issue_us": per_operation_us(lambda _: issuer.issue(CONTEXT, audience=BASE), count, repeats),
        "validate_cold_us": per_operation_us(lambda _: validator.validate(next(cold), audience=BASE), count, repeats),
        "validate_cached_us": per_operation_us(lambda _: validator.validate(cached, audience=BASE), count, repeats),
        "authenticate_cached_us": per_operation_us(
            lambda _: authenticate(f"Bearer {cached}", validator, audience=BASE), count, repeats),
        "token_grant_us": per_operation_us(grant, count // 4, repeats),
    }
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": platform.python_version(),
              "machine": platform.machine(), "count": count, "repeats": repeats, **results}
    print(json.dumps(report, indent=2))
    if options.out:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
