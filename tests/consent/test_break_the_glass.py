"""Break-the-glass: acute care reads a patient's record without consent, for a stated reason, always audited.

A hospital node asks a real consent registry; the patient has recorded no choice, so the BgZ is
refused, and acute care (purpose acute-care, a physician or nurse of an emergency organisation, a
reason of 10 to 500 characters, a patient-bound token) is served. The access is on the holder's audit
trail with the reason and the BTG marker, and the patient finds it in "who looked at my record".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth.orgs import request_token
from holder_network import Network, network

from samen.auth import policy as p
from samen.auth.context import AccessContext
from samen.fhir.model import Model
from samen.synth.bsn import synthetic_bsn

pytest.importorskip("samen.consent.registry")

REASON = "Bewusteloos binnengebracht op de SEH, medicatie en allergieën onbekend"
BSN = synthetic_bsn(9, 1)
HOLDER = "ziekenhuis"


@pytest.fixture
def net(database_url: str, model: Model, tmp_path: Path) -> Iterator[Network]:
    with network(database_url, model, tmp_path, {"AMB", "N6", "V4", "Z3", "J8"}) as built:
        yield built


def acute_token(net: Network, requester_type: str, *, role: str = "01.015", bsn: str | None = BSN,
                reason: str | None = REASON) -> httpx.Response:
    requester = net.requester(requester_type)
    base = net.holders[HOLDER][1].settings.base_url
    extra = {"break_the_glass_reason": reason} if reason is not None else {}
    return request_token(base, requester, scopes="system/*.rs", purpose=p.ACUTE_CARE, patient=bsn,
                         professional=net.dezi.attestation(requester, role=role), **extra)


def test_acute_care_reads_without_consent_and_the_patient_sees_who_looked(net: Network) -> None:
    bgz = net.token(HOLDER, net.requester("V4"), p.BGZ, bsn=BSN)
    assert net.get(HOLDER, "Condition", bgz).status_code == 403  # no choice recorded: no BgZ
    for requester_type, role in (("AMB", "01.015"), ("N6", "01.015"), ("V4", "30.000")):
        answer = acute_token(net, requester_type, role=role)
        assert answer.status_code == 200, answer.text
        served = net.get(HOLDER, "Condition", answer.json()["access_token"])
        assert served.status_code == 200, (requester_type, served.text)
    node = net.holders[HOLDER][1]
    assert node.auth.issuer is not None
    own_app = AccessContext("patient", frozenset({"patient/*.rs"}), client_ura="pgo-test", purpose="patient-self",
                            patient_bsn=BSN)
    citizen = node.auth.issuer.issue(own_app, audience=node.settings.base_url)
    seen = net.get(HOLDER, "AuditEvent?purpose=BTG", citizen)
    assert seen.status_code == 200, seen.text
    events = [entry["resource"] for entry in seen.json().get("entry", [])]
    assert len(events) == 3, events
    for event in events:
        purpose = event["purposeOfEvent"][0]
        assert any(coding["code"] == "BTG" for coding in purpose["coding"]) and REASON in purpose["text"], event


@pytest.mark.parametrize("reason", [None, "", "   ", "too short", "x" * 501])
def test_acute_care_without_a_proper_reason_gets_no_token(net: Network, reason: str | None) -> None:
    answer = acute_token(net, "AMB", reason=reason)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", answer.text


def test_a_reason_belongs_to_acute_care_only_and_needs_a_professional(net: Network) -> None:
    requester = net.requester("V4")
    base = net.holders[HOLDER][1].settings.base_url
    bgz_with_reason = request_token(base, requester, scopes="system/*.rs", purpose=p.BGZ, patient=BSN,
                                    professional=net.dezi.attestation(requester), break_the_glass_reason=REASON)
    assert bgz_with_reason.status_code == 400 and bgz_with_reason.json()["error"] == "invalid_request"
    nobody = request_token(base, requester, scopes="system/*.rs", purpose=p.ACUTE_CARE, patient=BSN,
                           break_the_glass_reason=REASON)
    assert nobody.status_code == 400 and "professional" in nobody.json()["error_description"]


@pytest.mark.parametrize(("requester_type", "role", "bsn", "refusal"), [
    ("V4", "17.000", BSN, "role"),  # a hospital pharmacist
    ("J8", "01.015", BSN, "type"),  # a pharmacy
    ("Z3", "01.015", BSN, "type"),  # a GP practice in office hours: not an emergency organisation
    ("AMB", "01.015", None, "patient"),  # not bound to a patient
])
def test_break_the_glass_is_refused_outside_acute_care(net: Network, requester_type: str, role: str,
                                                        bsn: str | None, refusal: str) -> None:
    answer = acute_token(net, requester_type, role=role, bsn=bsn)
    assert answer.status_code == 200, answer.text
    served = net.get(HOLDER, "Condition", answer.json()["access_token"])
    assert served.status_code == 403, served.text
    assert refusal in served.json()["issue"][0]["diagnostics"]


def test_acute_care_cannot_write_nor_read_beyond_the_bgz(net: Network) -> None:
    token = acute_token(net, "AMB").json()["access_token"]
    base = net.holders[HOLDER][1].settings.base_url
    headers = {"Authorization": f"Bearer {token}"}
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/any"}}
    assert httpx.post(f"{base}/Condition", json=condition, headers=headers).status_code == 403
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "POST", "url": "Condition"}, "resource": condition},
        {"request": {"method": "GET", "url": "Condition/_history"}},
        {"request": {"method": "GET", "url": "Condition"}}]}
    answered = httpx.post(base, json=batch, headers=headers)
    assert answered.status_code == 200, answered.text
    assert [e["response"]["status"][:3] for e in answered.json()["entry"]] == ["403", "403", "200"]
    for path in ("Condition/_history", "_history", "Patient/$export", "Communication"):
        assert net.get(HOLDER, path, token).status_code in (403, 404), path
