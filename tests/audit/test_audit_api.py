"""The trail as the FHIR API shows it: a PGO asks who looked at its record, an operator asks by organisation,
the AuditEvent of a success says who, for whom, what, why; writes to AuditEvent are refused; a failed
write leaves no entry claiming success."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from audit_helpers import Clinic, last_seq, trail_entries
from orgs import OTHER_BSN, TEST_BSN

from samen.api.messages import FhirRequest
from samen.audit import spool
from samen.audit.events import Access
from samen.audit.trail import AuditTrail
from samen.auth.context import AccessContext, Professional
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.sample import BSN, URA


def ok(answer: httpx.Response) -> dict:
    assert answer.status_code < 300, answer.text
    return answer.json()


def events(bundle: dict) -> list[dict]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def patient_of(event: dict) -> str:
    return next((e["what"].get("identifier", {}).get("value", "") for e in event["entity"]
                 if e.get("role", {}).get("code") == "1"), "")


def test_a_read_is_one_entry_that_says_who_for_whom_what_and_why(site: Clinic) -> None:
    before = last_seq(site.node)
    with site.client(site.bgz_token()) as fhir:
        ok(fhir.get(site.ids["a-bp"]))
    new = trail_entries(site.node)[before:]
    assert len(new) == 1
    entry = new[0]
    assert (entry.patient, entry.organisation, entry.action, entry.outcome, entry.purpose) == (
        TEST_BSN, site.practice.ura, "R", "0", "bgz")
    with site.client(site.admin_token()) as fhir:
        event = ok(fhir.get(f"AuditEvent/{entry.seq}"))
        assert event["subtype"][0]["code"] == "read" and event["purposeOfEvent"] == [{"text": "bgz"}]
        professional, organisation = event["agent"]
        assert professional["who"]["identifier"]["system"] == "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
        assert organisation["who"]["identifier"] == {"system": URA, "value": site.practice.ura}
        assert event["entity"][0]["what"]["reference"] == f"{site.ids['a-bp']}/_history/1"
        assert patient_of(event) == TEST_BSN
        validated = ok(fhir.post("AuditEvent/$validate", json=event))
        assert not [i for i in validated["issue"] if i["severity"] in ("error", "fatal")], validated


def test_the_patient_sees_who_looked_at_their_record_and_nothing_of_others(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:  # the GP reads A's record
        ok(fhir.get(site.ids["a-bp"]))
        ok(fhir.get("Observation"))
    with site.client(site.admin_token()) as fhir:
        ok(fhir.get(site.ids["b-bp"]))  # the hospital itself reads B's data, without a patient-bound token
    with site.client(site.patient_token()) as pgo:
        mine = events(ok(pgo.get("AuditEvent", params={"_count": "100"})))
        named = events(ok(pgo.get("AuditEvent", params={"patient:identifier": f"{BSN}|{OTHER_BSN}"})))
    assert named == []  # asking for someone else's trail finds nothing
    assert mine and all(patient_of(event) == TEST_BSN for event in mine)
    by_practice = [e for e in mine if any(a["who"].get("identifier", {}).get("value") == site.practice.ura
                                          for a in e["agent"])]
    assert len(by_practice) == 2  # the read and the search, each once
    with site.client(site.admin_token()) as fhir:
        theirs = events(ok(fhir.get("AuditEvent", params={"patient": site.ids["patient-b"]})))
    assert theirs and all(patient_of(event) == OTHER_BSN for event in theirs)
    assert any(e["entity"][0]["what"]["reference"].startswith(site.ids["b-bp"]) for e in theirs)


def test_an_operator_searches_by_organisation_and_pages(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:
        for _ in range(3):
            ok(fhir.get(site.ids["a-bp"]))
    with site.client(site.admin_token()) as fhir:
        first = ok(fhir.get("AuditEvent", params={"agent-identifier": f"{URA}|{site.practice.ura}", "_count": "2"}))
        assert len(events(first)) == 2
        following = next(link["url"] for link in first["link"] if link["relation"] == "next")
        rest = events(ok(fhir.get(following)))
        found = events(first) + rest
        assert len(found) == 3 and len({e["id"] for e in found}) == 3
        assert all(e["action"] == "R" for e in found)
        assert ok(fhir.get("AuditEvent", params={"agent-identifier": "00000000"})).get("entry", []) == []
        assert fhir.get("AuditEvent", params={"unknown": "x"}).status_code == 400


def test_the_trail_cannot_be_written_through_the_api(site: Clinic) -> None:
    with site.client(site.admin_token()) as fhir:
        seq = last_seq(site.node)
        event = ok(fhir.get(f"AuditEvent/{seq}"))
        assert fhir.post("AuditEvent", json=event).status_code == 405
        assert fhir.put(f"AuditEvent/{seq}", json=event).status_code == 405
        assert fhir.delete(f"AuditEvent/{seq}").status_code == 405
        transaction = {"resourceType": "Bundle", "type": "transaction",
                       "entry": [{"resource": event, "request": {"method": "POST", "url": "AuditEvent"}}]}
        assert fhir.post("", json=transaction).status_code == 405
    new = trail_entries(site.node)[seq:]  # the read, then four refused writes, each on the trail as a failure
    # the transaction failed as a whole: one entry, the Bundle's (action E)
    assert [(e.action, e.outcome) for e in new] == [("R", "0"), ("C", "4"), ("U", "4"), ("D", "4"), ("E", "4")]


def test_a_write_that_fails_leaves_a_failure_entry_and_no_success(site: Clinic) -> None:
    before = last_seq(site.node)
    with site.client(site.admin_token()) as fhir:
        answer = fhir.put(site.ids["a-bp"], json={"resourceType": "Observation", "id": site.id("a-bp"),
                                                   "status": "not-a-status"})
        assert answer.status_code in (400, 422), answer.text
        assert ok(fhir.get(site.ids["a-bp"]))["meta"]["versionId"] == "1"  # nothing written
    new = trail_entries(site.node)[before:]
    assert [(e.action, e.outcome) for e in new] == [("U", "4"), ("R", "0")]


def test_a_transaction_is_one_entry_per_bundle_entry_committed_with_it(site: Clinic) -> None:
    before = last_seq(site.node)
    org = {"resourceType": "Organization", "name": "Nieuw",
           "identifier": [{"system": URA, "value": site.hospital.ura}]}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": org, "request": {"method": "POST", "url": "Organization"}},
        {"request": {"method": "GET", "url": site.ids["a-bp"]}},
    ]}
    with site.client(site.admin_token()) as fhir:
        ok(fhir.post("", json=transaction))
    new = trail_entries(site.node)[before:]
    assert sorted(e.action for e in new) == ["C", "R"] and {e.outcome for e in new} == {"0"}


def test_break_the_glass_is_marked_and_found_by_the_patient(site: Clinic) -> None:
    doctor = Professional("900000009", "01.015", site.practice.ura, "Dr. Spoed")
    context = AccessContext("system", frozenset({"system/*.rs"}), client_ura=site.practice.ura,
                            professional=doctor, purpose="acute-care", patient_bsn=TEST_BSN, reason="bewusteloos")
    site.node.services["audit"].record(Access("GET", site.ids["a-bp"], interaction="read", res_type="Observation",
                                              context=context, patient_bsn=TEST_BSN))
    request = FhirRequest("GET", "AuditEvent", [("purpose", "BTG")], base_url=site.base, access=OPERATOR_CONTEXT)
    found = events(__import__("orjson").loads(site.node.router.handle(request).payload() or b"{}"))
    assert len(found) == 1
    purpose = found[0]["purposeOfEvent"][0]
    assert purpose["coding"][0]["code"] == "BTG" and "bewusteloos" in purpose["text"]
    with site.client(site.patient_token()) as pgo:
        mine = events(ok(pgo.get("AuditEvent", params={"purpose": "BTG"})))
    assert [e["id"] for e in mine] == [found[0]["id"]]


@contextmanager
def full_disk(trail: AuditTrail) -> Iterator[None]:
    """From here on no file of this process can grow (``RLIMIT_FSIZE``, as a full disk refuses new space), and
    the trail's spool segment has no room left for a read's entry: the next entry needs a new segment."""
    def size(query: str) -> int:
        return len(spool.encode(trail.entry(Access("GET", "Observation", query=query))))

    per_character = (size("q" * 1000) - size("")) / 1000
    room_left = 100  # bytes: less than any read's entry
    query = "q" * int((spool.SEGMENT_BYTES - size("") - room_left) / per_character)
    trail.record(Access("GET", "Observation", query=query))  # fits, in this segment or a new one, leaving ~100 bytes
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused growth is then an error (EFBIG), not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (spool.SEGMENT_BYTES - 1, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, ignored)


def test_a_read_whose_entry_cannot_be_written_is_not_answered(site: Clinic) -> None:
    """The entry is spooled before the answer goes out; a spool that cannot be written is a 503 without the data."""
    before = last_seq(site.node)
    token = site.bgz_token()
    with site.client(token) as fhir, full_disk(site.node.services["audit"]):
        answer = fhir.get(site.ids["a-bp"])
    assert answer.status_code == 503, answer.text
    assert answer.json()["issue"][0]["code"] == "transient"
    assert "valueQuantity" not in answer.text
    with site.client(site.bgz_token()) as fhir:
        ok(fhir.get(site.ids["a-bp"]))
    assert last_seq(site.node) == before + 2  # the entry that filled the segment, and the answered read only
