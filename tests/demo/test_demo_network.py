"""The demo network, every process real on loopback (point 5 of issue 8), and the exchanges on it (point 6).

One network per module (the first run sets it up: synth, imports, directory, consent, localization);
the tests then use it as its users would, over HTTP, and read each custodian's audit trail with
``samen audit show``. The last test stops it and runs ``samen demo`` itself again: the data is reused,
and Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from auth.orgs import get_token
from demo_helpers import Clinician, audit, bgz, free_port_block, organisation, outcome, professional, sources

from samen.auth.client import TokenClient
from samen.demo.network import DemoNetwork
from samen.demo.plan import MIN_PEOPLE, Plan
from samen.demo.processes import samen_command
from samen.directory.localization_client import LocalizationClient
from samen.sample import URA

GP, NURSE = "01.015", "30.000"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoNetwork]:
    demo = DemoNetwork(tmp_path_factory.mktemp("demo") / "demo", port=free_port_block(), people=MIN_PEOPLE)
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


def test_a_custodian_without_consent_is_refused_and_reported(plan: Plan) -> None:
    person = plan.persons[1]
    assert ("ziekenhuis", "no") in person.consent
    gp = gp_of(plan, person.bsn)
    answer = bgz(plan, gp, person.bsn, professional(plan, gp, GP))
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    hospital = plan.org("hospital").ura
    refused = [i for i in outcome(bundle) if i["severity"] != "information"]
    assert len(refused) == 1 and refused[0]["code"] == "forbidden" and hospital in refused[0]["diagnostics"]
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "OperationOutcome"]
    assert entries and hospital not in set().union(*(sources(e) for e in entries))


def test_the_audit_trails_show_exactly_the_accesses_made(plan: Plan) -> None:
    """After the two BgZ requests above: each custodian of the first person logged the requesting GP's reads of
    that person, the refusing hospital logged its refusal of the second, and the other GP practice nothing."""
    four, refuser = plan.persons[0], plan.persons[1]
    requester = plan.org(gp_of(plan, four.bsn)).ura
    doctor = professional(plan, gp_of(plan, four.bsn), GP)
    for key in four.custodians:
        if key == gp_of(plan, four.bsn):
            continue
        events = [e for e in audit(plan, key, four.bsn) if requester in str(e.get("agent"))]
        assert events, key
        for event in events:  # who (the professional, for the organisation), why, and that it was served
            assert doctor in str(event["agent"][0]) and requester in str(event["agent"][1]), key
            assert "bgz" in str(event["purposeOfEvent"]) and event["outcome"] == "0", key
    other_gp = next(org.key for org in plan.providers if org.key.startswith("gp-") and org.key not in four.custodians)
    assert [e for e in audit(plan, other_gp, four.bsn) if requester in str(e.get("agent"))] == []
    refusals = [e for e in audit(plan, "hospital", refuser.bsn) if e["outcome"] != "0"]
    assert refusals and all(plan.org(gp_of(plan, refuser.bsn)).ura in str(e.get("agent")) for e in refusals)


def test_eoverdracht_both_directions_with_both_sides_audited(plan: Plan) -> None:
    """A hospital nurse hands over to the nursing home, which pulls and accepts; then the other way round.
    Each sender's trail holds the receiver's pulls (the Task and its data), each receiver's the notification."""
    person = plan.persons[0]
    assert {"hospital", "nursing-home"} <= set(person.custodians)
    for sender, receiver in (("hospital", "nursing-home"), ("nursing-home", "hospital")):
        receiving = Clinician(plan, receiver, professional(plan, receiver, NURSE))
        before = set(receiving.incoming())
        Clinician(plan, sender, professional(plan, sender, NURSE)).hand_over(
            person.bsn, plan.org(receiver).ura, f"demo test: {sender} to {receiver}")
        new = [hid for hid in receiving.incoming() if hid not in before]
        assert len(new) == 1, (sender, receiver)
        receiving.open_and_accept(new[0])
        pulls = [e for e in audit(plan, sender, person.bsn) if plan.org(receiver).ura in str(e.get("agent"))]
        assert pulls and all(e["outcome"] == "0" for e in pulls), (sender, receiver)
        assert "Task" in str(pulls), (sender, receiver)


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
