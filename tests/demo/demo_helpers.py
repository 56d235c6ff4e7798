"""What the demo tests do as the network's users: log a professional in at the IdP, get tokens, ask for a BgZ."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import httpx
from auth.orgs import Organisation, get_token

from samen.auth.keys import KeyStore
from samen.demo.plan import Plan
from samen.exchange.merge import SOURCE_EXTENSION
from samen.fhir.primitives import ms_to_instant
from samen.sample import BSN, URA, UZI

PORTS_NEEDED = 16


def organisation(plan: Plan, key: str) -> Organisation:
    org = plan.org(key)
    return Organisation(org.ura, org.name, org.org_type, KeyStore(plan.keys(org)))


def attestation(plan: Plan, key: str, uzi: str) -> str:
    """Log the professional ``uzi`` in at the professional IdP as a client of node ``key``; the attestation."""
    base = plan.org(key).base_url
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = f"{base}/auth/callback"
    issuer = plan.professional_idp
    with httpx.Client(timeout=30) as client:
        started = client.get(f"{issuer}/authorize", params={
            "response_type": "code", "client_id": base, "redirect_uri": redirect, "scope": "openid",
            "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256"})
        assert started.status_code in (302, 303), started.text
        login = urljoin(f"{issuer}/authorize", started.headers["location"])
        handle = parse_qs(urlsplit(login).query)["request"][0]
        logged_in = client.post(f"{issuer}/login", data={"request": handle, "uzi": uzi})
        assert logged_in.status_code in (302, 303), logged_in.text
        code = parse_qs(urlsplit(logged_in.headers["location"]).query)["code"][0]
        answer = client.post(f"{issuer}/token", data={"grant_type": "authorization_code", "code": code,
                                                      "redirect_uri": redirect, "client_id": base,
                                                      "code_verifier": verifier})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["professional_attestation"])


def professional(plan: Plan, key: str, role: str) -> str:
    """The UZI number of the first professional of ``key`` with ``role``."""
    ura = plan.org(key).ura
    return next(p.uzi for p in plan.professionals if p.ura == ura and p.role == role)


def bgz(plan: Plan, key: str, bsn: str, uzi: str) -> httpx.Response:
    """``$bgz`` at node ``key`` for the professional ``uzi`` of that organisation."""
    proof = attestation(plan, key, uzi)
    base = plan.org(key).base_url
    token = get_token(base, organisation(plan, key), scopes="system/Patient.rs", purpose="bgz", patient=bsn,
                      professional=proof)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueString": bsn}, {"name": "attestation", "valueString": proof}]}
    return httpx.post(f"{base}/$bgz", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def sources(entry: dict[str, Any]) -> set[str]:
    """The URAs of the custodians an entry of a BgZ Bundle names."""
    return {part["valueReference"]["identifier"]["value"]
            for extension in entry.get("extension", []) if extension.get("url") == SOURCE_EXTENSION
            for part in extension["extension"] if part["url"] == "custodian"}


def outcome(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The issues of the Bundle's OperationOutcome (one per custodian)."""
    return [issue for entry in bundle.get("entry", []) if entry["resource"]["resourceType"] == "OperationOutcome"
            for issue in entry["resource"].get("issue", [])]


@dataclass(frozen=True)
class Seen:
    """One entry of an audit trail as the demo tests compare it: who (professional, organisation) did what
    (method, path, query), about whom (the BSN, else the Patient reference), why (purpose) and how it ended."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]  # the query's parameters, sorted: the order of the parameters is no access
    patient: str
    professional: str
    organisation: str
    purpose: str
    outcome: str

    @classmethod
    def of(cls, method: str, path: str, query: str = "", **who: str) -> Seen:
        return cls(method, path, tuple(sorted(parse_qsl(query, keep_blank_values=True))), **who)


def now_ms() -> int:
    return int(time.time() * 1000)


def trail_since(plan: Plan, key: str, since_ms: int) -> list[Seen]:
    """Every entry on node ``key``'s audit trail recorded since ``since_ms``, read by the node's own organisation
    (``AuditEvent?date=ge...``, which chains the spool first). The search's own entry is not in its answer."""
    base = plan.org(key).base_url
    token = get_token(base, organisation(plan, key), scopes="system/AuditEvent.rs", purpose="admin")
    answer = httpx.get(f"{base}/AuditEvent", params={"date": f"ge{ms_to_instant(since_ms)}", "_count": "1000"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert not [link for link in page.get("link", []) if link["relation"] == "next"], "more than one page"
    return [_seen(entry["resource"]) for entry in page.get("entry", [])]


def _seen(event: dict[str, Any]) -> Seen:
    identifiers = {agent["who"]["identifier"]["system"]: agent["who"]["identifier"]["value"]
                   for agent in event["agent"] if "identifier" in agent.get("who", {})}
    asked = event["entity"][0]
    method, _, path = asked["description"].partition(" ")
    query = base64.b64decode(asked["query"]).decode() if "query" in asked else ""
    patients = [entity["what"] for entity in event["entity"] if entity.get("role", {}).get("code") == "1"]
    patient = next((p["identifier"]["value"] if p.get("identifier", {}).get("system") == BSN else p["reference"]
                    for p in patients), "")
    return Seen.of(method, path, query, patient=patient, professional=identifiers.get(UZI, ""),
                   organisation=identifiers.get(URA, ""),
                   purpose=" ".join(p["text"] for p in event.get("purposeOfEvent", [])), outcome=event["outcome"])


def differences(expected: Counter[Seen], found: Counter[Seen]) -> str:
    """What a trail misses and what it holds in excess, one entry a line (for an assertion's message)."""
    return "\n".join([f"missing {n}x {seen}" for seen, n in (expected - found).items()]
                     + [f"extra {n}x {seen}" for seen, n in (found - expected).items()])


class Clinician:
    """A professional using the clinician view (``[base]/zorgverlener``) of node ``key`` as a browser would,
    without JavaScript: the login through the professional IdP, then the forms with their CSRF token."""

    def __init__(self, plan: Plan, key: str, uzi: str) -> None:
        self.base = plan.org(key).base_url
        self.page = f"{self.base}/zorgverlener"
        self.http = httpx.Client(timeout=120, follow_redirects=False)
        answer = self.http.get(f"{self.page}/inloggen")
        assert answer.status_code == 303, answer.text
        authorize = self.http.get(answer.headers["location"])  # the IdP, which sends the browser to its login page
        login = urljoin(answer.headers["location"], authorize.headers["location"])
        handle = parse_qs(urlsplit(login).query)["request"][0]
        issuer = login.rsplit("/login", 1)[0]
        logged_in = self.http.post(f"{issuer}/login", data={"request": handle, "uzi": uzi})
        back = self.http.get(logged_in.headers["location"])  # the node's callback: the session starts
        assert back.status_code == 303, back.text
        home = self.http.get(urljoin(self.base, back.headers["location"]))
        assert home.status_code == 200, home.text
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]

    def patient_id(self, bsn: str) -> str:
        found = self.http.post(f"{self.page}/zoeken", data={"bsn": bsn, "csrf": self.csrf})
        assert found.status_code == 200, found.text
        return re.search(r"zorgverlener/patient/([A-Za-z0-9.\-]+)", found.text).group(1)  # type: ignore[union-attr]

    def hand_over(self, bsn: str, receiver_ura: str, note: str) -> None:
        sent = self.http.post(f"{self.page}/patient/{self.patient_id(bsn)}/overdracht",
                              data={"receiver": receiver_ura, "note": note, "csrf": self.csrf})
        assert sent.status_code == 303 and "handover_sent" in sent.headers["location"], sent.text

    def incoming(self) -> list[str]:
        """The ids of the handovers listed as incoming (links to their pages)."""
        page = self.http.get(f"{self.page}/overdrachten")
        assert page.status_code == 200, page.text
        return list(dict.fromkeys(re.findall(r'zorgverlener/overdrachten/([A-Za-z0-9.\-]+)(?:\?[^"]*)?"', page.text)))

    def open_and_accept(self, handover_id: str) -> str:
        """Open the handover, pull its data ('Gegevens ophalen') and accept it; the pulled page's text."""
        opened = self.http.get(f"{self.page}/overdrachten/{handover_id}")
        assert opened.status_code == 200, opened.text
        pulled = self.http.post(f"{self.page}/overdrachten/{handover_id}/ophalen", data={"csrf": self.csrf})
        assert pulled.status_code == 200, pulled.text
        accepted = self.http.post(f"{self.page}/overdrachten/{handover_id}/accepteren", data={"csrf": self.csrf})
        assert accepted.status_code == 303, accepted.text
        return pulled.text
