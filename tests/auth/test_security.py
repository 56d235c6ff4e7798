"""Attacks and mistakes, end to end over real HTTP with real keys and signatures.

Every case is refused with 401 or 403, leaves an AuditEvent on the node, and answers with an
OperationOutcome that carries no data and no internal detail. When the token endpoint refuses (a
replayed or unsigned client assertion, an unknown, revoked or rotated-out key, a JWKS URL elsewhere,
no purpose), the client gets no token, and its request without one is a 401.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from clinic import Clinic, clinic
from orgs import OTHER_BSN, TEST_BSN, Organisation, request_token, write_trust_list

from samen.auth.context import AccessContext, Professional
from samen.sample import BSN
from samen.fhir.model import Model

INTERNALS = ("Traceback", ".py", "SELECT", "sqlite", "psycopg", "kid", "jwks", "signature", "Error", "compartment")


@pytest.fixture
def site(database_url: str, model: Model, tmp_path: Path) -> Iterator[Clinic]:
    with clinic(database_url, model, tmp_path) as served:
        yield served


@pytest.fixture
def refused(site: Clinic) -> Callable[[httpx.Response, int], str]:
    """Check a refusal: status, an OperationOutcome without data or internals, and one new AuditEvent."""
    seen = [len(site.audit_events())]

    def check(answer: httpx.Response, status: int) -> str:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["resourceType"] == "OperationOutcome" and len(body["issue"]) == 1, body
        text = answer.text
        for secret in (*INTERNALS, TEST_BSN, OTHER_BSN, site.id("patient-b"), site.id("b-bp")):
            assert secret not in text, (secret, text)
        events = site.audit_events()
        assert len(events) == seen[0] + 1, "no audit record"
        seen[0] = len(events)
        assert events[0]["outcome"] == ("4" if status == 401 else "8")
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")
        return body["issue"][0]["diagnostics"]

    return check


def bound_context(scopes: str = "system/*.rs", purpose: str = "bgz") -> AccessContext:
    """What the node's token endpoint puts in a GP's BgZ token for patient A."""
    return AccessContext("system", frozenset(scopes.split()), client_ura="87654321", client_type="Z3",
                         professional=Professional("900000001", "01.015", "87654321", "Dr. A. Jansen"),
                         purpose=purpose, patient_bsn=TEST_BSN)


def get(site: Clinic, path: str, token: str | None, **params: str) -> httpx.Response:
    with site.client(token) as fhir:
        return fhir.get(path, params=params)


def no_token_then_401(site: Clinic, answer: httpx.Response, refused: Callable[[httpx.Response, int], str]) -> None:
    """The token endpoint refused: no token in its answer, and the client's request without one is a 401."""
    assert answer.status_code in (400, 401), answer.text
    assert "access_token" not in answer.json()
    refused(get(site, "Observation", None), 401)


# -- tokens that are not what they claim ------------------------------------------------------------


def test_a_forged_signature(site: Clinic, refused: Callable) -> None:
    head, claims, signature = site.bgz_token().split(".")
    forged = f"{head}.{claims}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert refused(get(site, "Observation", forged), 401) == "The access token is not valid"
    wider = orjson.loads(base64.urlsafe_b64decode(claims + "==")) | {"scope": "system/*.cruds"}
    tampered = base64.urlsafe_b64encode(orjson.dumps(wider)).decode().rstrip("=")
    refused(get(site, "Observation", f"{head}.{tampered}.{signature}"), 401)


def test_an_expired_token(site: Clinic, refused: Callable) -> None:
    assert site.node.auth.issuer is not None
    expired = site.node.auth.issuer.issue(bound_context(), audience=site.base, lifetime_s=-600)
    assert refused(get(site, site.ids["a-bp"], expired), 401) == "The access token has expired"


def test_a_token_for_another_audience(site: Clinic, refused: Callable) -> None:
    assert site.node.auth.issuer is not None
    elsewhere = site.node.auth.issuer.issue(bound_context(), audience="https://other-node.test/fhir")
    refused(get(site, site.ids["a-bp"], elsewhere), 401)


def test_the_none_algorithm(site: Clinic, refused: Callable) -> None:
    head, claims, _ = site.bgz_token().split(".")
    header = orjson.loads(base64.urlsafe_b64decode(head + "==")) | {"alg": "none"}
    unsigned = base64.urlsafe_b64encode(orjson.dumps(header)).decode().rstrip("=") + f".{claims}."
    refused(get(site, "Observation", unsigned), 401)
    assertion = site.practice.assertion(f"{site.base}/auth/token").split(".")
    none_header = base64.urlsafe_b64encode(orjson.dumps({"alg": "none", "kid": site.practice.keys.current().kid}))
    unsigned_assertion = f"{none_header.decode().rstrip('=')}.{assertion[1]}."
    no_token_then_401(site, request_token(site.base, site.practice, assertion=unsigned_assertion), refused)


def test_a_replayed_client_assertion(site: Clinic, refused: Callable) -> None:
    assertion = site.practice.assertion(f"{site.base}/auth/token")
    first = request_token(site.base, site.practice, assertion=assertion, scopes="system/Organization.rs",
                          purpose="directory-query")
    assert first.status_code == 200, first.text
    replayed = request_token(site.base, site.practice, assertion=assertion, scopes="system/*.rs",
                             purpose="directory-query")
    no_token_then_401(site, replayed, refused)


# -- organisations and keys that are not (or no longer) trusted ------------------------------------


def test_an_unregistered_organisation(site: Clinic, refused: Callable, tmp_path: Path) -> None:
    stranger = Organisation.create(tmp_path, "77777777", "Onbekende Kliniek", "V4")
    no_token_then_401(site, request_token(site.base, stranger, purpose="directory-query"), refused)


def test_a_revoked_organisation(site: Clinic, refused: Callable, tmp_path: Path) -> None:
    token = site.bgz_token()
    entries = [site.hospital.entry(), site.practice.entry(active=False), site.homecare.entry()]
    write_trust_list(tmp_path / "trust.json", entries, [site.dezi.entry()])
    site.node.auth.trust.recheck_s = 0  # the revocation is noticed at the next request, not after the usual delay
    assert "not trusted" in refused(get(site, site.ids["a-bp"], token), 401)  # its valid token ends at once
    no_token_then_401(site, request_token(site.base, site.practice, purpose="directory-query"), refused)


def test_a_client_key_rotated_out(site: Clinic, refused: Callable, tmp_path: Path) -> None:
    old_key = site.practice.keys.current()
    site.practice.keys.rotate(overlap_s=0)
    write_trust_list(tmp_path / "trust.json", [site.hospital.entry(), site.practice.entry()], [site.dezi.entry()])
    site.node.auth.trust.recheck_s = 0
    assertion = site.practice.assertion(f"{site.base}/auth/token", key=old_key)
    no_token_then_401(site, request_token(site.base, site.practice, assertion=assertion,
                                          purpose="directory-query"), refused)


def test_a_token_signed_with_a_node_key_rotated_out(site: Clinic, refused: Callable) -> None:
    token = site.bgz_token()
    assert get(site, site.ids["a-bp"], token).status_code == 200
    site.hospital.keys.rotate(overlap_s=0)  # the node's own key directory: the old key is withdrawn now
    time.sleep(1.1)  # the node looks at its key directory at most once a second
    refused(get(site, site.ids["a-bp"], token), 401)


def test_a_jwks_url_pointing_elsewhere(site: Clinic, refused: Callable, tmp_path: Path) -> None:
    hijacked = site.practice.entry(jwks_uri="https://attacker.example/jwks.json")
    write_trust_list(tmp_path / "trust.json", [site.hospital.entry(), hijacked], [site.dezi.entry()])
    site.node.auth.trust.recheck_s = 0
    no_token_then_401(site, request_token(site.base, site.practice, purpose="directory-query"), refused)


# -- purposes and scopes --------------------------------------------------------------------------


def test_a_missing_purpose(site: Clinic, refused: Callable) -> None:
    no_token_then_401(site, request_token(site.base, site.practice, purpose=None), refused)
    assert site.node.auth.issuer is not None
    without_purpose = site.node.auth.issuer.issue(bound_context(purpose=""), audience=site.base)
    assert refused(get(site, site.ids["a-bp"], without_purpose), 403) == "the token names no purpose of use"


@pytest.mark.parametrize(("method", "path"), [("POST", "Observation"), ("GET", "Observation"),
                                              ("DELETE", "@patient-a")])
def test_scope_escalation(site: Clinic, refused: Callable, method: str, path: str) -> None:
    token = site.bgz_token(scopes="system/Patient.rs")
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}} if method == "POST" else None
    with site.client(token) as fhir:
        answer = fhir.request(method, fill(site, path), json=body)
    refused(answer, 403)


def test_a_wider_scope_does_not_widen_the_use_case(site: Clinic, refused: Callable) -> None:
    token = site.bgz_token(scopes="system/*.cruds")
    with site.client(token) as fhir:
        observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
        answer = fhir.post("Observation", json=observation)
    assert refused(answer, 403) == "bgz does not allow create"


# -- a token for patient A used for patient B -------------------------------------------------------


A_FOR_B = [  # "@name" stands for the record's Type/id, "#name" for its id
    ("read", "@b-bp", {}),
    ("vread", "@b-bp/_history/1", {}),
    ("read of B", "@patient-b", {}),
    ("search", "Observation", {"subject": "@patient-b"}),
    ("search by id", "Observation", {"patient": "#patient-b"}),
    ("_include", "Patient", {"_id": "#patient-b", "_include": "Patient:general-practitioner"}),
    ("chained search", "Observation", {"subject.identifier": f"{BSN}|{OTHER_BSN}"}),
    ("typed chain", "Observation", {"subject:Patient.name": "Bakker"}),
]
A_FOR_B_BY_CITIZEN = [  # what a BgZ token may not ask at all, asked by a citizen's app
    ("history", "@patient-b/_history", {}),
    ("instance history", "@b-bp/_history", {}),
    ("compartment", "@patient-b/Observation", {}),
    ("_revinclude", "Patient", {"_id": "#patient-b", "_revinclude": "Observation:subject"}),
    ("_has", "Patient", {"_has:Observation:subject:_id": "#b-bp"}),
]


def fill(site: Clinic, text: str) -> str:
    return re.sub(r"([@#])([a-z-]+)", lambda m: site.ids[m[2]] if m[1] == "@" else site.id(m[2]), text)


@pytest.mark.parametrize(("what", "path", "params"), A_FOR_B, ids=[case[0] for case in A_FOR_B])
@pytest.mark.parametrize("holder", ["bgz", "patient"])
def test_a_token_for_patient_a_used_for_patient_b(site: Clinic, refused: Callable, what: str, path: str,
                                                  params: dict[str, str], holder: str) -> None:
    token = site.bgz_token() if holder == "bgz" else site.patient_token()
    answer = get(site, fill(site, path), token, **{name: fill(site, value) for name, value in params.items()})
    assert refused(answer, 403) == "This token is bound to another patient"


@pytest.mark.parametrize(("what", "path", "params"), A_FOR_B_BY_CITIZEN, ids=[case[0] for case in A_FOR_B_BY_CITIZEN])
def test_a_citizen_app_for_patient_a_used_for_patient_b(site: Clinic, refused: Callable, what: str, path: str,
                                                        params: dict[str, str]) -> None:
    answer = get(site, fill(site, path), site.patient_token(),
                 **{name: fill(site, value) for name, value in params.items()})
    assert refused(answer, 403) == "This token is bound to another patient"


@pytest.mark.parametrize("path", ["Group/#group-b/$export", "$export"])
def test_a_bulk_export_for_patient_a_reaching_patient_b(site: Clinic, refused: Callable, path: str) -> None:
    with site.client(site.patient_token()) as fhir:
        answer = fhir.get(fill(site, path), headers={"Prefer": "respond-async"})
    assert "export that patient's data only" in refused(answer, 403)
