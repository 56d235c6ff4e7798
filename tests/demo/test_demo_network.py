"""The demo network, every process real on loopback (point 5 of issue 8), and the exchanges on it (point 6).

One network per module (the first run sets it up: synth, imports, directory, consent, localization);
the tests then use it as its users would, over HTTP, and read each custodian's audit trail as that
organisation (``AuditEvent?date=ge...``) to compare it with exactly the accesses the requester made. The last test stops it and runs ``samen demo`` itself again: the data is reused,
and Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth.orgs import get_token
from demo_helpers import (PORTS_NEEDED, Clinician, Seen, bgz, differences, now_ms, organisation, outcome,
                          professional, sources, trail_since)
from serving import free_port_block

from samen.auth.client import TokenClient
from samen.auth.policy import BGZ, EOVERDRACHT_RECEIVER, EOVERDRACHT_SENDER
from samen.demo.network import DemoNetwork
from samen.demo.plan import MIN_PEOPLE, Person, Plan
from samen.demo.processes import samen_command
from samen.directory.localization_client import LocalizationClient
from samen.exchange.bgz_queries import SECTIONS
from samen.sample import URA

GP, NURSE = "01.015", "30.000"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoNetwork]:
    demo = DemoNetwork(tmp_path_factory.mktemp("demo") / "demo", port=free_port_block(PORTS_NEEDED), people=MIN_PEOPLE)
    with demo:
        yield demo


@pytest.fixture(scope="module")
def plan(network: DemoNetwork) -> Plan:
    assert network.plan is not None
    return network.plan


def gp_of(plan: Plan, bsn: str) -> str:
    person = next(p for p in plan.persons if p.bsn == bsn)
    return next(key for key in person.custodians if key.startswith("gp-"))


def test_every_process_answers(plan: Plan) -> None:
    assert len(plan.providers) == 5 and sum(org.key.startswith("gp-") for org in plan.providers) == 2
    for org in plan.orgs:
        answer = httpx.get(f"{org.base_url}/metadata", timeout=30)
        assert answer.status_code == 200, org.key
        assert answer.json()["resourceType"] == "CapabilityStatement"
    for issuer in (plan.professional_idp, plan.citizen_idp):
        assert httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=30).json()["issuer"] == issuer


def test_the_query_directory_lists_every_provider_with_its_endpoint(plan: Plan) -> None:
    query = plan.org("query-directory").base_url
    token = get_token(query, organisation(plan, "hospital"), scopes="system/Organization.rs system/Endpoint.rs",
                      purpose="directory-query")
    headers = {"Authorization": f"Bearer {token}"}
    for org in plan.providers:
        found = httpx.get(f"{query}/Organization", params={"identifier": f"{URA}|{org.ura}", "_include":
                                                           "Organization:endpoint"}, headers=headers, timeout=30)
        assert found.status_code == 200, found.text
        resources = [entry["resource"] for entry in found.json().get("entry", [])]
        # the root's listing and the organisation's own entry, both copied
        assert {r["name"] for r in resources if r["resourceType"] == "Organization"} == {org.name}
        assert org.base_url in [r["address"] for r in resources if r["resourceType"] == "Endpoint"]
    trusted = plan.directory_trust_list.read_text()
    assert all(org.ura in trusted for org in plan.providers)


def test_the_index_knows_each_persons_custodians(plan: Plan) -> None:
    gp = organisation(plan, "gp-1")
    client = LocalizationClient(TokenClient(gp.keys), index=plan.org("localization-index").base_url,
                                index_ura=plan.org("localization-index").ura,
                                pseudonymiser=plan.org("pseudonymiser").base_url)
    for person in plan.persons:
        token = client.pseudonymize([person.bsn])[0]
        custodians = {location.custodian for location in client.search(token)}
        assert custodians == {plan.org(key).ura for key in person.custodians}, person.story


def test_bgz_from_four_custodians_merged_with_sources(plan: Plan) -> None:
    person = plan.persons[0]
    gp = gp_of(plan, person.bsn)
    since = now_ms()
    answer = bgz(plan, gp, person.bsn, professional(plan, gp, GP))
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    holders = {plan.org(key).ura for key in person.custodians}
    assert len(holders) == 4
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "OperationOutcome"]
    assert all(sources(e) and sources(e) <= holders for e in entries)
    assert set().union(*(sources(e) for e in entries)) == holders  # every custodian contributed
    patients = [e for e in entries if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1 and sources(patients[0]) == holders  # one person, four copies merged
    assert [i for i in outcome(bundle) if i["severity"] != "information"] == []
    assert_trails_hold_exactly_the_bgz(plan, person, since)


def test_a_custodian_without_consent_is_refused_and_reported(plan: Plan) -> None:
    person = plan.persons[1]
    assert ("ziekenhuis", "no") in person.consent
    gp = gp_of(plan, person.bsn)
    since = now_ms()
    answer = bgz(plan, gp, person.bsn, professional(plan, gp, GP))
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    hospital = plan.org("hospital").ura
    refused = [i for i in outcome(bundle) if i["severity"] != "information"]
    assert len(refused) == 1 and refused[0]["code"] == "forbidden" and hospital in refused[0]["diagnostics"]
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "OperationOutcome"]
    assert entries and hospital not in set().union(*(sources(e) for e in entries))
    assert_trails_hold_exactly_the_bgz(plan, person, since)


def assert_trails_hold_exactly_the_bgz(plan: Plan, person: Person, since: int) -> None:
    """The audit trail of every provider since ``since`` holds exactly the accesses of the requesting GP's BgZ.

    At each custodian of the person: one entry per query of the BgZ set (each entry of the batch is a request of
    its own), served where the person said yes to that kind of custodian, else refused (outcome 8); at the requesting
    node also its ``$bgz`` operation; at the other providers nothing. A successful token request leaves no entry
    (docs/audit.md). No other organisation touched the person's data there in the meantime."""
    gp = gp_of(plan, person.bsn)
    who = {"patient": person.bsn, "professional": professional(plan, gp, GP), "organisation": plan.org(gp).ura,
           "purpose": BGZ}
    allowing = {category for category, choice in person.consent if choice == "yes"}  # consent: deny by default
    for org in plan.providers:
        expected: Counter[Seen] = Counter()
        if org.key in person.custodians:
            result = "0" if org.holder_category in allowing else "8"
            expected.update(Seen.of("GET", *query.partition("?")[::2], **who, outcome=result)
                            for section in SECTIONS for query in section.queries)
        if org.key == gp:
            expected[Seen.of("POST", "$bgz", **who, outcome="0")] += 1
        trail = trail_since(plan, org.key, since)
        found = Counter(seen for seen in trail if seen.organisation == who["organisation"])
        assert found == expected, f"{org.key}:\n{differences(expected, found)}"
        assert [seen for seen in trail if seen.organisation != who["organisation"] and seen.patient == person.bsn] == []


def test_eoverdracht_both_directions_with_both_sides_audited(plan: Plan) -> None:
    """A hospital nurse hands over to the nursing home, which pulls and accepts; then the other way round.
    The sender's trail holds exactly the receiver's pull (the Task, what it refers to and what those list, the
    Task marked received) and acceptance (the Task read and updated); the receiver's the notification."""
    person = plan.persons[0]
    assert {"hospital", "nursing-home"} <= set(person.custodians)
    for sender, receiver in (("hospital", "nursing-home"), ("nursing-home", "hospital")):
        receiving = Clinician(plan, receiver, professional(plan, receiver, NURSE))
        before = set(receiving.incoming())
        since = now_ms()
        Clinician(plan, sender, professional(plan, sender, NURSE)).hand_over(
            person.bsn, plan.org(receiver).ura, f"demo test: {sender} to {receiver}")
        new = [hid for hid in receiving.incoming() if hid not in before]
        assert len(new) == 1, (sender, receiver)
        receiving.open_and_accept(new[0])
        sender_trail, receiver_trail = trail_since(plan, sender, since), trail_since(plan, receiver, since)
        task = workflow_task_of(plan, receiver, new[0], sender)
        pulled = {"patient": person.bsn, "professional": professional(plan, receiver, NURSE),
                  "organisation": plan.org(receiver).ura, "purpose": EOVERDRACHT_RECEIVER, "outcome": "0"}
        task_path = f"Task/{task['id']}"
        expected = Counter([Seen.of("GET", task_path, **pulled), Seen.of("PUT", task_path, **pulled)] * 2)
        expected.update(Seen.of("GET", reference, **pulled) for reference in referred(plan, sender, task))
        found = Counter(seen for seen in sender_trail if seen.organisation == pulled["organisation"])
        assert found == expected, f"{sender}:\n{differences(expected, found)}"
        # the notification names the patient only by BSN identifier (Task.for), which the trail derives no
        # patient from (docs/audit.md, "Which patient, as far as known"): its entry has none
        notified = {"patient": "", "professional": professional(plan, sender, NURSE),
                    "organisation": plan.org(sender).ura, "purpose": EOVERDRACHT_SENDER, "outcome": "0"}
        found = Counter(seen for seen in receiver_trail if seen.organisation == notified["organisation"])
        assert found == Counter([Seen.of("POST", "Task", **notified)]), f"{receiver}: {found}"


def admin_read(plan: Plan, key: str, path: str) -> dict[str, Any]:
    """``[base]/path`` at node ``key``, read by its own organisation."""
    base = plan.org(key).base_url
    token = get_token(base, organisation(plan, key), scopes="system/*.rs", purpose="admin")
    answer = httpx.get(f"{base}/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def workflow_task_of(plan: Plan, receiver: str, notification_id: str, sender: str) -> dict[str, Any]:
    """The sender's workflow Task that the receiver's notification ``notification_id`` announces."""
    notification = admin_read(plan, receiver, f"Task/{notification_id}")
    base = f"{plan.org(sender).base_url}/"
    url = next(b["reference"] for b in notification["basedOn"] if b["reference"].startswith(f"{base}Task/"))
    return admin_read(plan, sender, url.removeprefix(base))


def referred(plan: Plan, sender: str, task: dict[str, Any]) -> list[str]:
    """What the workflow Task's inputs refer to at the sender, and what the Lists among them list."""
    found: list[str] = []
    pending = [item["valueReference"]["reference"] for item in task.get("input", []) if "valueReference" in item]
    while pending:
        reference = pending.pop(0)
        if reference not in found:
            found.append(reference)
            resource = admin_read(plan, sender, reference)
            pending += [entry["item"]["reference"] for entry in resource.get("entry", [])]
    return found


def test_a_custodian_that_is_down_is_reported_within_the_timeout(network: DemoNetwork, plan: Plan) -> None:
    person = plan.persons[0]
    gp = gp_of(plan, person.bsn)
    network.children.pause("nursing-home")
    try:
        started = time.monotonic()
        answer = bgz(plan, gp, person.bsn, professional(plan, gp, GP))
        elapsed = time.monotonic() - started
    finally:
        network.children.resume("nursing-home")
    assert answer.status_code == 200, answer.text
    nursing_home = plan.org("nursing-home").ura
    failed = [i for i in outcome(answer.json()) if i["severity"] != "information"]
    assert len(failed) == 1 and nursing_home in failed[0]["diagnostics"]
    assert failed[0]["code"] in ("transient", "timeout")
    assert elapsed < 10 + 5  # the exchange timeout (10 s by default) and the logins around it


def demo_processes(directory: Path) -> list[int]:
    """Pids of every process whose command line names the demo's folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(directory).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_second_run_reuses_the_data_and_ctrl_c_stops_everything(network: DemoNetwork, plan: Plan) -> None:
    network.stop()
    assert demo_processes(plan.directory) == []
    out, err = plan.directory / "rerun.out", plan.directory / "rerun.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:  # files, not pipes: a full pipe would stall it
        demo = subprocess.Popen([*samen_command(), "demo", "--dir", str(plan.directory), "--port", str(plan.port)],
                                stdout=stdout, stderr=stderr)
    try:
        started = time.monotonic()
        while "Press Ctrl-C" not in out.read_text() and demo.poll() is None and time.monotonic() - started < 90:
            time.sleep(0.2)
        up = time.monotonic() - started
        assert "Press Ctrl-C" in out.read_text(), err.read_text()
        assert "Reusing the demo" in err.read_text() and "samen synth" not in err.read_text()
        assert up < 60, up
        assert len(set(demo_processes(plan.directory)) - {demo.pid}) == len(plan.orgs) + 1  # the nodes and the IdP
        for org in plan.providers:
            assert httpx.get(f"{org.base_url}/metadata", timeout=30).status_code == 200
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0, err.read_text()
    finally:
        if demo.poll() is None:
            demo.kill()
    assert "All demo processes stopped." in err.read_text()
    assert demo_processes(plan.directory) == [], [os.readlink(f"/proc/{p}/exe") for p in demo_processes(plan.directory)]
