"""Consent at the data holder, end to end: a real consent registry, holder nodes and requesters on loopback.

Every combination of requester category × holder category × data category that the BgZ and the
medication transfer use (taken from the policy's rules and the consent catalogue, not listed by hand)
is permitted with a recorded yes and refused without a choice or with a no, with an OperationOutcome
that names consent and an audit record of the refusal. A withdrawal counts from the next request:
at once through the registry's notification, and without one after the cache time at most.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from holder_network import Network, network, requester_types

from samen.audit import store as audit_store
from samen.auth import policy as p
from samen.consent import catalogue
from samen.consent.notifications import NOTIFY_PATH
from samen.fhir.model import Model
from samen.synth.bsn import synthetic_bsn
from samen.audit.events import audit_event_of

pytest.importorskip("samen.consent.registry")  # the registry role (samen.consent.registry)

EXCHANGES = [rule for rule in p.RULES if rule.consent]  # the exchanges that need consent (BgZ, medication)
HOLDERS = ("ziekenhuis", "huisarts", "apotheek")


def combinations() -> list[tuple[p.Rule, str, str, str, str]]:
    """(rule, holder category, requester organisation type, data category, resource type of that category)."""
    found = []
    for rule in EXCHANGES:
        assert rule.organisation_types is not None
        data = {}
        for res_type in sorted(rule.types or ()):
            category = catalogue.data_category(res_type)
            if category is not None:
                data.setdefault(category, res_type)
        for requester_type in sorted(requester_types(rule.organisation_types).values()):
            for holder in HOLDERS:
                found.extend((rule, holder, requester_type, category, res_type) for category, res_type in data.items())
    return found


def role_for(rule: p.Rule) -> str:
    """A professional role the rule admits ("01." is a group: a huisarts)."""
    assert rule.roles is not None
    return rule.roles[0] + "015" if rule.roles[0].endswith(".") else rule.roles[0]


@pytest.fixture
def net(database_url: str, model: Model, tmp_path: Path) -> Iterator[Network]:
    types = {requester for _, _, requester, _, _ in combinations()}
    with network(database_url, model, tmp_path, types, cache_s=1.0) as built:
        built.subscribed()
        yield built


def refusals(net: Network, holder: str) -> list[dict[str, object]]:
    node = net.holders[holder][1]
    node.services["audit"].flush()
    with node.store.session(write=False) as session:
        found = audit_store.search(session.conn, audit_store.Criteria(outcomes=("8",)), before=None, count=1000)
    return [audit_event_of(entry.event, entry.recorded_ms) for entry in found]


def test_every_exchange_combination_is_permitted_by_a_yes_and_refused_without(net: Network) -> None:
    combos = combinations()
    assert {rule.name for rule, *_ in combos} == {"bgz", "medication-transfer"}
    assert len({(h, r, d) for _, h, r, d, _ in combos}) >= 20  # 3 holders × several requesters × 2 data categories
    for number, (rule, holder, requester_type, data, res_type) in enumerate(combos):
        said_yes, said_no, said_nothing = (synthetic_bsn(7, 3 * number + i) for i in range(3))
        requester = net.requester(requester_type)
        requester_category = catalogue.requester_category(requester_type)
        assert requester_category is not None
        net.choose(said_yes, holder, data, requester_category, permit=True)
        net.choose(said_no, holder, data, requester_category, permit=False)
        combo = f"{rule.name}: {requester_type} ({requester_category}) asks {holder} for {data} ({res_type})"
        for bsn, allowed in ((said_yes, True), (said_no, False), (said_nothing, False)):
            token = net.token(holder, requester, next(iter(rule.purposes)), bsn=bsn, role=role_for(rule))
            before = len(refusals(net, holder))
            answer = net.get(holder, res_type, token)
            if allowed:
                assert answer.status_code == 200, (combo, answer.text)
                continue
            assert answer.status_code == 403, (combo, answer.text)
            diagnostics = answer.json()["issue"][0]["diagnostics"]
            assert "consent" in diagnostics and data in diagnostics, (combo, diagnostics)
            assert "Traceback" not in answer.text and bsn not in answer.text
            audited = refusals(net, holder)
            assert len(audited) == before + 1, combo
            assert "consent" in str(audited[0].get("outcomeDesc")), audited[0]


def test_a_withdrawal_counts_from_the_next_request_through_the_notification(
        database_url: str, model: Model, tmp_path: Path) -> None:
    gp_type = requester_types(p.RULES[0].organisation_types or frozenset())["huisarts"]
    with network(database_url, model, tmp_path, {gp_type}, cache_s=60.0) as net:  # far beyond the deadline
        net.subscribed()
        bsn = synthetic_bsn(8, 1)
        gp = net.requester(gp_type)
        consent = net.choose(bsn, "ziekenhuis", permit=True)
        token = net.token("ziekenhuis", gp, p.BGZ, bsn=bsn)
        assert net.get("ziekenhuis", "Condition", token).status_code == 200  # asked, and now cached
        net.withdraw(consent)
        deadline = time.monotonic() + 15  # well within the cache time (60 s): only the notification can do it
        while net.get("ziekenhuis", "Condition", token).status_code == 200:
            assert time.monotonic() < deadline, "the withdrawal did not count before the cache time ran out"
            time.sleep(0.02)
        assert net.get("ziekenhuis", "Condition", token).status_code == 403


def test_without_a_notification_a_withdrawal_counts_after_the_cache_time(net: Network) -> None:
    bsn = synthetic_bsn(8, 2)
    gp = net.requester(requester_types(p.RULES[0].organisation_types or frozenset())["huisarts"])
    holder = net.holders["ziekenhuis"][1]
    notifications = holder.services["consent-notifications"]
    consent = net.choose(bsn, "ziekenhuis", permit=True)
    token = net.token("ziekenhuis", gp, p.BGZ, bsn=bsn)
    assert net.get("ziekenhuis", "Condition", token).status_code == 200
    notifications._secret = "the registry's notification will not be taken"  # as if it were lost on the way
    net.withdraw(consent)
    time.sleep(holder.settings.consent_cache_s + 0.1)
    assert net.get("ziekenhuis", "Condition", token).status_code == 403


def test_an_unreachable_registry_is_a_deny(database_url: str, model: Model, tmp_path: Path) -> None:
    with network(database_url, model, tmp_path, {"Z3"}) as net:
        bsn = synthetic_bsn(8, 3)
        net.choose(bsn, "ziekenhuis", permit=True)
        consent = net.holders["ziekenhuis"][1].services["consent-holder"]
        consent.registry = "http://127.0.0.1:9"  # nothing listens there
        token = net.token("ziekenhuis", net.requester("Z3"), p.BGZ, bsn=bsn)
        answer = net.get("ziekenhuis", "Condition", token)
        assert answer.status_code == 403 and "consent registry unavailable" in answer.text


def test_the_notification_endpoint_takes_only_the_registry_with_its_secret(net: Network) -> None:
    holder = net.holders["ziekenhuis"][1]
    url = f"{holder.settings.base_url}/{NOTIFY_PATH}"
    secret = holder.services["consent-notifications"]._secret
    good = {"resourceType": "Parameters", "parameter": [
        {"name": "event", "valueCode": "consent-changed"},
        {"name": "patient", "valueIdentifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn",
                                                "value": synthetic_bsn(8, 4)}}]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {secret}x"}):
        answer = httpx.post(url, json=good, headers=headers)
        assert answer.status_code == 401 and answer.json()["resourceType"] == "OperationOutcome"
        assert secret not in answer.text
    authorised = {"Authorization": f"Bearer {secret}"}
    for body in (b"{", b"[]", orjson.dumps({**good, "resourceType": "Bundle"}),
                 orjson.dumps({**good, "parameter": [{"name": ["event"]}, good["parameter"][1]]}),
                 orjson.dumps({**good, "parameter": good["parameter"][:1]}),
                 orjson.dumps({**good, "parameter": [good["parameter"][0], {"name": "patient", "valueIdentifier": {
                     "system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123456789"}}]})):
        answer = httpx.post(url, content=body, headers=authorised)
        assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome", body
    assert httpx.post(url, json=good, headers=authorised).status_code == 200
    assert httpx.get(url, headers=authorised).status_code in (401, 405)  # POST only; a GET is the FHIR API's
