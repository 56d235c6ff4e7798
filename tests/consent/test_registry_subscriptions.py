"""Data holders subscribe at the registry and are notified, with their own headers, when a citizen's choices change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from auth.orgs import TEST_BSN
from registry_nodes import OTHER_BSN, Registry, consent, served_registry
from serving import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from samen.auth.policy import CONSENT_CHECK, CONSENT_SUBSCRIPTION
from samen.fhir.model import Model
from samen.sample import BSN

SCOPES = "system/Subscription.cruds"


@pytest.fixture
def registry(database_url: str, model: Model, tmp_path: Path) -> Iterator[Registry]:
    with served_registry(database_url, model, tmp_path) as served:
        notifier = served.node.services["consent-notifier"]
        notifier.poll_s, notifier.backoff_s, notifier.attempts, notifier.timeout_s = 0.05, 0.05, 3, 2.0
        yield served


@contextmanager
def receiver(fhir_base: str, status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A holder's notification endpoint on the host of its FHIR base: its URL, and every request it received."""
    received: list[dict[str, Any]] = []

    async def notified(request: Request) -> Response:
        received.append({"headers": dict(request.headers), "body": await request.json()})
        return Response(status_code=status)

    port = urlsplit(fhir_base).port or free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/consent-changed", notified, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/consent-changed", received
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def subscription(endpoint: str, secret: str, criteria: str = "Consent") -> dict[str, Any]:
    return {"resourceType": "Subscription", "status": "requested", "reason": "drop cached consent answers",
            "criteria": criteria,
            "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
                        "header": [f"Authorization: Bearer {secret}"]}}


def wait_for(condition: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _change(registry: Registry, bsn: str) -> str:
    with registry.client(registry.patient_token(bsn)) as pgo:
        created = pgo.post("Consent", json=consent(bsn, "huisarts", True))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_a_subscribed_holder_is_notified_with_its_headers(registry: Registry) -> None:
    with receiver(registry.fhir_base(registry.gp)) as (endpoint, received), \
            registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, SCOPES)) as gp:
        created = gp.post("Subscription", json=subscription(endpoint, "s3cret-of-the-gp"))
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "active"
        only_other = gp.post("Subscription", json=subscription(
            endpoint, "other", f"Consent?patient.identifier={BSN}|{OTHER_BSN}"))
        assert only_other.status_code == 201, only_other.text
        consent_id = _change(registry, TEST_BSN)
        notification = wait_for(lambda: received)[0]
        time.sleep(0.3)
    assert len(received) == 1  # the subscription for another citizen stayed silent
    assert notification["headers"]["authorization"] == "Bearer s3cret-of-the-gp"
    assert notification["headers"]["content-type"] == "application/fhir+json"
    assert notification["body"] == {"resourceType": "Parameters", "parameter": [
        {"name": "event", "valueCode": "consent-changed"},
        {"name": "patient", "valueIdentifier": {"system": BSN, "value": TEST_BSN}},
        {"name": "consent", "valueReference": {"reference": f"Consent/{consent_id}"}},
        {"name": "subscription", "valueReference": {"reference": f"Subscription/{created.json()['id']}"}},
    ]}


def test_a_failing_endpoint_is_retried_then_the_subscription_is_in_error(registry: Registry) -> None:
    with receiver(registry.fhir_base(registry.gp), status=503) as (endpoint, received), \
            registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, SCOPES)) as gp:
        sub_id = gp.post("Subscription", json=subscription(endpoint, "x")).json()["id"]
        _change(registry, TEST_BSN)
        failed = wait_for(lambda: (s := gp.get(f"Subscription/{sub_id}").json())["status"] == "error" and s)
        assert len(received) == 3  # the configured number of attempts
        assert "HTTP 503" in failed["error"] and "3 times" in failed["error"]
        _change(registry, OTHER_BSN)
        time.sleep(0.3)
        assert len(received) == 3  # nothing more is sent to a subscription in error


def test_a_holder_sees_and_manages_only_its_own_subscriptions(registry: Registry) -> None:
    with registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, SCOPES)) as gp, \
            registry.client(registry.token(registry.hospital, CONSENT_SUBSCRIPTION, SCOPES)) as hospital:
        mine = gp.post("Subscription", json=subscription(f"{registry.fhir_base(registry.gp)}/notify", "a")).json()
        at_hospital = f"{registry.fhir_base(registry.hospital)}/notify"
        theirs = hospital.post("Subscription", json=subscription(at_hospital, "b")).json()
        assert [e["resource"]["id"] for e in gp.get("Subscription").json()["entry"]] == [mine["id"]]
        assert hospital.get(f"Subscription/{mine['id']}").status_code == 404
        assert hospital.put(f"Subscription/{mine['id']}", json={**mine, "status": "off"}).status_code == 404
        assert hospital.delete(f"Subscription/{mine['id']}").status_code == 404
        forged = subscription(at_hospital, "c")
        forged["meta"] = {"tag": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "code": registry.gp.ura}]}
        owned = hospital.post("Subscription", json=forged).json()
        assert owned["meta"]["tag"] == [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "code": registry.hospital.ura}]
        assert gp.get(f"Subscription/{mine['id']}").json()["status"] == "active"
        assert {e["resource"]["id"] for e in hospital.get("Subscription").json()["entry"]} == {theirs["id"], owned["id"]}
    with registry.client(registry.token(registry.gp, CONSENT_CHECK, SCOPES)) as wrong_purpose:
        assert wrong_purpose.get("Subscription").status_code == 403


@pytest.mark.parametrize(
    ("change", "element"),
    [({"criteria": "Patient"}, "Subscription.criteria"),
     ({"criteria": "Consent?patient.identifier=urn:x|1"}, "Subscription.criteria"),
     ({"channel": {"type": "websocket", "endpoint": "http://127.0.0.1:9/"}}, "Subscription.channel"),
     ({"channel": {"type": "rest-hook", "endpoint": "ftp://x/"}}, "Subscription.channel"),
     ({"channel": {"type": "rest-hook", "endpoint": "http://x/", "header": ["no colon"]}}, "Subscription.channel.header"),
     ({"status": "error"}, "Subscription.status")],
)
def test_a_malformed_subscription_is_refused(registry: Registry, change: dict[str, Any], element: str) -> None:
    with registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, SCOPES)) as gp:
        response = gp.post("Subscription", json={**subscription(registry.fhir_base(registry.gp), "a"), **change})
        assert response.status_code == 422
        assert response.json()["issue"][0]["expression"] == [element]
        assert gp.get("Subscription").json().get("entry", []) == []


def _elsewhere(registry: Registry) -> list[str]:
    """Addresses a holder may not have the registry POST to: anything but the origin of its own FHIR base."""
    own = urlsplit(registry.fhir_base(registry.gp))
    return [
        f"http://127.0.0.1:{own.port + 1 if own.port != 65535 else 1}/fhir/notify",  # another port on loopback
        f"https://127.0.0.1:{own.port}/fhir/notify",  # another scheme
        f"http://localhost:{own.port}/fhir/notify",  # the same machine by another name
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
        f"http://127.0.0.1:{own.port}@internal.test/notify",  # the own host:port as user info
        f"http://127.0.0.1:{own.port}\\@internal.test/notify",
        f"{registry.fhir_base(registry.hospital)}/notify",  # another member's node
        registry.base + "/$consent-check",  # the registry itself
    ]


def test_a_subscription_endpoint_off_the_holders_own_host_is_refused(registry: Registry) -> None:
    allowed = f"{registry.fhir_base(registry.gp)}/consent/notify"
    with registry.client(registry.token(registry.gp, CONSENT_SUBSCRIPTION, SCOPES)) as gp:
        for endpoint in _elsewhere(registry):
            response = gp.post("Subscription", json=subscription(endpoint, "a"))
            assert response.status_code == 422, (endpoint, response.text)
            assert response.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
        assert gp.get("Subscription").json().get("entry", []) == []
        kept = gp.post("Subscription", json=subscription(allowed, "a")).json()
        for endpoint in _elsewhere(registry)[:2]:
            moved = {**kept, "channel": {**kept["channel"], "endpoint": endpoint}}
            assert gp.put(f"Subscription/{kept['id']}", json=moved).status_code == 422
        assert gp.get(f"Subscription/{kept['id']}").json()["channel"]["endpoint"] == allowed
    with registry.node.store.session(write=False) as session:
        assert session.conn.execute("SELECT endpoint FROM consent_subscription") == [(allowed,)]


def test_an_organisation_without_a_listed_fhir_base_cannot_subscribe(database_url: str, model: Model,
                                                                     tmp_path: Path) -> None:
    from auth.orgs import Organisation, get_token, identity, write_trust_list
    from serving import served_node

    registry_org = Organisation.create(tmp_path, "00000999", "Toestemmingsregister", "ZG")
    gp = Organisation.create(tmp_path, "11111111", "Huisartsenpraktijk", "Z3")
    entry = gp.entry()
    del entry["endpoints"]["fhir"]
    trust = write_trust_list(tmp_path / "trust.json", [entry])
    with served_node(database_url, model, open_mode=False, roles=("consent-registry",),
                     **identity(registry_org, trust)) as node:
        token = get_token(node.settings.base_url, gp, purpose=CONSENT_SUBSCRIPTION, scopes=SCOPES)
        response = httpx.post(f"{node.settings.base_url}/Subscription", json=subscription("http://127.0.0.1:9/x", "a"),
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 422 and "FHIR base" in response.text, response.text
