"""Enforcement over real HTTP with real tokens: what each use case gets, and that it gets no more.

The refusals of forged, expired, misused and over-reaching tokens are in test_security.py; here the
permitted side of every rule, the limits that hold inside a permit (patient and Task binding, own
organisation), Bundles, operations, public endpoints and the audit record of a refusal.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from clinic import BLOOD_PRESSURE, Clinic, clinic
from orgs import TEST_BSN

from samen.sample import BSN, URA
from samen.fhir.model import Model


@pytest.fixture
def site(database_url: str, model: Model, tmp_path: Path) -> Iterator[Clinic]:
    with clinic(database_url, model, tmp_path) as served:
        yield served


def ids(bundle: dict[str, Any], mode: str | None = None) -> set[str]:
    """``Type/id`` of the Bundle's resources (of one search mode)."""
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") != "OperationOutcome"
            and (mode is None or e.get("search", {}).get("mode") == mode)}


def ok(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else {}


def refused(answer: httpx.Response, status: int = 403) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["diagnostics"]


# -- secure by default -------------------------------------------------------------------------------


def test_without_a_token_only_the_public_documents_are_served(site: Clinic) -> None:
    with site.client(None) as fhir:
        for path in ("Patient", f"Observation/{site.id('a-bp')}", "_history", "ValueSet/$expand?url=x", "$export"):
            answer = fhir.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "Authentication required" in refused(answer, 401)
        assert refused(fhir.post("", json={"resourceType": "Bundle", "type": "batch"}), 401)
        assert ok(fhir.get("metadata"))["resourceType"] == "CapabilityStatement"
        assert ok(fhir.get(".well-known/smart-configuration"))["token_endpoint"].endswith("/auth/token")


def test_every_authenticated_caller_may_use_terminology_and_validation(site: Clinic) -> None:
    with site.client(site.patient_token()) as fhir:
        gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
        expansion = ok(fhir.get("ValueSet/$expand", params={"url": gender}))
        assert expansion["resourceType"] == "ValueSet"
        outcome = ok(fhir.post("Patient/$validate", json={"resourceType": "Patient", "gender": "x"}))
        assert outcome["resourceType"] == "OperationOutcome"


# -- BgZ: patient-bound reads and searches ---------------------------------------------------------------


def test_bgz_searches_return_the_bound_patients_data_only(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:
        found = ok(fhir.get("Observation", params={"code": BLOOD_PRESSURE}))
        assert ids(found) == {site.ids["a-bp"]}
        assert ids(ok(fhir.get("Patient", params={"_include": "Patient:general-practitioner"}))) == {
            site.ids["patient-a"], site.ids["gp"]}
        prescriptions = ok(fhir.get("MedicationRequest", params={"_include": "MedicationRequest:medication"}))
        assert ids(prescriptions, "match") == {site.ids["a-prescription"]}
        assert ids(prescriptions, "include") == {site.ids["medication"]}
        assert ids(ok(fhir.get("Patient", params={"identifier": f"{BSN}|{TEST_BSN}"}))) == {site.ids["patient-a"]}
        assert ids(ok(fhir.get("Observation", params={"patient": site.ids["patient-a"]}))) == {site.ids["a-bp"],
                                                                                               site.ids["a-panel"]}


def test_includes_leave_out_what_lies_outside_the_compartment(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:
        panel = ok(fhir.get("Observation", params={"_include": "Observation:has-member"}))
        assert site.ids["b-bp"] not in ids(panel)
        device_use = ok(fhir.get("DeviceUseStatement", params={"_include": "DeviceUseStatement:device"}))
        assert ids(device_use) == {site.ids["a-device-use"]}  # B's device names B: left out
        assert refused(fhir.get(site.ids["b-device"])) == "This token is bound to another patient"
        assert ok(fhir.get(site.ids["medication"]))["resourceType"] == "Medication"


def test_reads_outside_the_compartment_are_refused_whether_or_not_they_exist(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:
        assert ok(fhir.get(site.ids["a-bp"]))["id"] == site.id("a-bp")
        assert ok(fhir.get(f"{site.ids['a-bp']}/_history/1"))["id"] == site.id("a-bp")
        unknown = refused(fhir.get("Observation/does-not-exist"))
        other = refused(fhir.get(site.ids["b-bp"]))
        assert unknown == other == "This token is bound to another patient"


def test_a_patient_bound_token_does_not_write(site: Clinic) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": site.ids["patient-a"]}}
    with site.client(site.patient_token(scopes="patient/*.cruds")) as fhir:
        assert "does not allow create" in refused(fhir.post("Observation", json=observation))


# -- patient self-access: history, compartments, export -----------------------------------------------


def test_history_of_a_patient_bound_token_lists_its_compartment_only(site: Clinic) -> None:
    own = {site.ids[name] for name in ("a-bp", "a-panel")}
    with site.client(site.patient_token()) as fhir:
        assert ids(ok(fhir.get("Observation/_history"))) == own
        everything = ids(ok(fhir.get("_history")))
        assert own <= everything and site.ids["patient-a"] in everything
        assert not {site.ids[name] for name in ("b-bp", "patient-b", "b-prescription", "org-hospital")} & everything
        assert ids(ok(fhir.get(f"{site.ids['patient-a']}/_history"))) == {site.ids["patient-a"]}


def test_a_patient_compartment_search_is_the_bound_patients(site: Clinic) -> None:
    with site.client(site.patient_token()) as fhir:
        found = ok(fhir.get(f"{site.ids['patient-a']}/Observation"))
        assert ids(found) == {site.ids["a-bp"], site.ids["a-panel"]}


def test_a_citizen_exports_their_own_data_only(site: Clinic) -> None:
    with site.client(site.patient_token()) as fhir:
        kick_off = fhir.get("Patient/$export", headers={"Prefer": "respond-async"})
        assert kick_off.status_code == 202, kick_off.text
        manifest = _manifest(fhir, kick_off.headers["content-location"])
        assert manifest["requiresAccessToken"] is True
        exported = set()
        for output in manifest["output"]:
            for line in ok_bytes(fhir.get(output["url"])).splitlines():
                resource = orjson.loads(line)
                exported.add(f"{resource['resourceType']}/{resource['id']}")
        assert {site.ids[name] for name in ("patient-a", "a-bp", "a-panel", "a-prescription")} <= exported
        assert not {site.ids[name] for name in ("patient-b", "b-bp", "b-prescription")} & exported
    with site.client(site.patient_token(bsn="999912032")) as other:  # B cannot follow A's job
        status = other.get(kick_off.headers["content-location"])
        assert status.status_code == 404, status.text


def _manifest(fhir: httpx.Client, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = fhir.get(status_url)
        if answer.status_code == 200:
            return answer.json()
        assert answer.status_code == 202, answer.text
        time.sleep(0.1)
    raise AssertionError("the export did not finish")


def ok_bytes(answer: httpx.Response) -> bytes:
    assert answer.status_code == 200, answer.text
    return answer.content


# -- eOverdracht ------------------------------------------------------------------------------------


def test_the_receiver_reads_the_task_and_what_it_refers_to(site: Clinic) -> None:
    token = site.token(site.homecare, "eoverdracht-receiver", "system/*.r", role="30.000", task=site.id("task"))
    with site.client(token) as fhir:
        assert ok(fhir.get(site.ids["task"]))["status"] == "requested"
        assert ok(fhir.get(site.ids["a-handover"]))["title"] == "Overdracht"
        assert ok(fhir.get(site.ids["a-bp"]))["id"] == site.id("a-bp")  # listed in the handover
        assert ok(fhir.get(site.ids["patient-a"]))["id"] == site.id("patient-a")  # the Task's patient
        for outside in ("a-panel", "b-bp", "task-for-practice"):
            assert "does not refer to this resource" in refused(fhir.get(site.ids[outside]))
        assert "does not allow search" in refused(fhir.get("Observation"))


def test_a_task_addressed_to_another_organisation_opens_nothing(site: Clinic) -> None:
    token = site.token(site.homecare, "eoverdracht-receiver", "system/*.r", role="30.000",
                       task=site.id("task-for-practice"))
    with site.client(token) as fhir:
        assert "not addressed to your organisation" in refused(fhir.get(site.ids["task-for-practice"]))


def test_the_sender_creates_and_updates_its_own_tasks_only(site: Clinic) -> None:
    token = site.token(site.homecare, "eoverdracht-sender", "system/Task.cu", role="30.000")
    own = {"resourceType": "Task", "status": "requested", "intent": "order",
           "requester": {"identifier": {"system": URA, "value": site.homecare.ura}},
           "owner": {"identifier": {"system": URA, "value": site.practice.ura}}}
    with site.client(token) as fhir:
        created = ok(fhir.post("Task", json=own), 201)
        ok(fhir.put(f"Task/{created['id']}", json={**own, "id": created["id"], "status": "cancelled"}))
        someone_elses = {**own, "requester": {"identifier": {"system": URA, "value": site.hospital.ura}}}
        assert "own organisation" in refused(fhir.post("Task", json=someone_elses))
        existing = {**own, "id": site.id("task")}  # the hospital's Task, claimed as the sender's own
        assert "own organisation" in refused(fhir.put(site.ids["task"], json=existing))
        assert "does not allow create on Observation" in refused(
            fhir.post("Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}}))


# -- medication transfer, directory -----------------------------------------------------------------


def test_a_pharmacy_reads_the_medication_of_the_bound_patient(site: Clinic) -> None:
    token = site.token(site.pharmacy, "medication-transfer", "system/*.rs", role="17.075", patient=TEST_BSN)
    with site.client(token) as fhir:
        found = ok(fhir.get("MedicationRequest", params={"patient": site.ids["patient-a"],
                                                          "_include": "MedicationRequest:medication"}))
        assert ids(found) == {site.ids["a-prescription"], site.ids["medication"]}
        assert "does not allow search on Observation" in refused(fhir.get("Observation"))


def test_directory_query_reads_every_organisations_entries_and_nothing_else(site: Clinic) -> None:
    token = site.token(site.practice, "directory-query", "system/*.rs", role=None)
    with site.client(token) as fhir:
        assert len(ids(ok(fhir.get("Organization")))) == 3
        assert len(ok(fhir.get("Location/_history"))["entry"]) == 2
        assert "does not allow read on Patient" in refused(fhir.get(site.ids["patient-a"]))


def test_directory_update_writes_the_organisations_own_entries_only(site: Clinic) -> None:
    token = site.token(site.practice, "directory-update", "system/*.cud", role=None)
    location = {"resourceType": "Location", "name": "Dependance",
                "managingOrganization": {"reference": site.ids["org-practice"]}}
    with site.client(token) as fhir:
        ok(fhir.post("Location", json=location), 201)
        practice = {"identifier": {"system": URA, "value": site.practice.ura}}
        by_identifier = {**location, "managingOrganization": practice}
        ok(fhir.post("Location", json=by_identifier), 201)
        ok(fhir.put(site.ids["practice-location"], json={**location, "id": site.id("practice-location")}))
        hospitals = {**location, "managingOrganization": {"reference": site.ids["org-hospital"]}}
        assert "own organisation" in refused(fhir.post("Location", json=hospitals))
        taken_over = {**location, "id": site.id("hospital-location")}
        assert "own organisation" in refused(fhir.put(site.ids["hospital-location"], json=taken_over))
        assert "own organisation" in refused(fhir.delete(site.ids["hospital-location"]))


# -- administration, Bundles ----------------------------------------------------------------------------


def test_the_nodes_own_organisation_administers_everything(site: Clinic) -> None:
    with site.client(site.admin_token()) as fhir:
        assert len(ids(ok(fhir.get("Patient")))) == 2
        ok(fhir.delete(site.ids["b-bp"]), 204)
    token = site.token(site.practice, "admin", "system/*.cruds", role=None)
    with site.client(token) as fhir:
        assert "own organisation may use this purpose" in refused(fhir.get("Patient"))


def test_bundle_entries_are_judged_one_by_one(site: Clinic) -> None:
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": site.ids["a-bp"]}},
        {"request": {"method": "GET", "url": site.ids["b-bp"]}},
        {"request": {"method": "GET", "url": f"Observation?subject={site.ids['patient-b']}"}},
    ]}
    with site.client(site.patient_token()) as fhir:
        statuses = [e["response"]["status"] for e in ok(fhir.post("", json=batch))["entry"]]
        assert statuses == ["200 OK", "403 Forbidden", "403 Forbidden"]
    token = site.token(site.homecare, "eoverdracht-sender", "system/Task.cu", role="30.000")
    own_task = {"resourceType": "Task", "status": "requested", "intent": "order",
                "requester": {"identifier": {"system": URA, "value": site.homecare.ura}}}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": own_task, "request": {"method": "POST", "url": "Task"}},
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
    ]}
    with site.client(token) as fhir:
        assert "does not allow create on Patient" in refused(fhir.post("", json=transaction))
    with site.client(site.admin_token()) as fhir:
        assert len(ids(ok(fhir.get("Task")))) == 2  # the transaction stored nothing


# -- the audit record of a refusal ----------------------------------------------------------------------


def test_a_refusal_is_an_audit_event_and_a_log_line_without_the_bsn(site: Clinic,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with site.client(site.bgz_token()) as fhir:
        refused(fhir.get(site.ids["b-bp"]))
    event = site.audit_events()[0]
    assert event["outcome"] == "8" and event["action"] == "R"
    assert event["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]
    assert event["purposeOfEvent"] == [{"text": "bgz"}]
    professional, organisation = event["agent"]
    assert professional["who"]["identifier"] == {"system": "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers",
                                                 "value": "900000001"}
    assert professional["requestor"] is True and professional["network"]["address"] == "127.0.0.1"
    assert professional["role"][0]["coding"][0]["code"] == "01.015" and professional["policy"]
    assert organisation["who"]["identifier"] == {"system": URA, "value": site.practice.ura}
    asked, patient = event["entity"]
    assert asked["what"] == {"reference": site.ids["b-bp"]}
    assert patient["what"]["identifier"] == {"system": BSN, "value": TEST_BSN}
    assert "patient-binding" in event["outcomeDesc"]
    logged = capsys.readouterr()
    assert "access refused" in logged.out + logged.err
    assert TEST_BSN not in logged.out + logged.err


def test_the_audit_event_of_a_refused_search_keeps_the_query(site: Clinic) -> None:
    with site.client(site.bgz_token()) as fhir:
        refused(fhir.get("Observation", params={"subject": site.ids["patient-b"]}))
    event = site.audit_events()[0]
    assert event["subtype"][0]["code"] == "search-type" and event["action"] == "E"
    assert base64.b64decode(event["entity"][0]["query"]).decode() == f"subject={site.ids['patient-b']}"


def test_audit_events_are_valid_r4(site: Clinic) -> None:
    with site.client(None) as fhir:
        refused(fhir.get("Patient"), 401)
    with site.client(site.bgz_token()) as fhir:
        refused(fhir.get(site.ids["b-bp"]))
    with site.client(site.admin_token()) as fhir:
        for event in site.audit_events():
            outcome = ok(fhir.post("AuditEvent/$validate", json=event))
            errors = [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]
            assert not errors, errors
