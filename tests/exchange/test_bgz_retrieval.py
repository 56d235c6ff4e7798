"""BgZ retrieval across custodians on real nodes over loopback: merge with sources, refusals, a custodian down or slow."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
from auth.orgs import TEST_BSN, get_token
from bgz_network import (
    DOWN_URA,
    HOSPITAL_URA,
    NURSING_URA,
    PHARMACY_URA,
    PRACTICE_URA,
    SLOW_URA,
    bundle_resources,
    network,
)

from directory.localization_nodes import BSNS

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.exchange.bgz import BgzResult
from samen.fhir.model import Model
from samen.sample import BSN


def section(result: BgzResult, code: str) -> list[tuple[str, list[str]]]:
    """The entries of a section as (resource type, source URAs)."""
    found = next(s for s in result.sections if s.code == code)
    return [(e.resource["resourceType"], sorted(s.ura for s in e.sources)) for e in found.entries]


def test_bgz_from_several_custodians_is_merged_with_every_source_and_the_refusal_reported(
        tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        result = net.requester.services["exchange"].bgz(TEST_BSN, attestation=net.attestation())
    reports = {r.ura: r for r in result.custodians}
    assert {ura: r.status for ura, r in reports.items()} == {
        HOSPITAL_URA: "ok", PRACTICE_URA: "ok", PHARMACY_URA: "ok", NURSING_URA: "refused"}
    assert "consent" in reports[NURSING_URA].reason and "deny" in reports[NURSING_URA].reason
    assert reports[HOSPITAL_URA].name == "Ziekenhuis Oost" and reports[HOSPITAL_URA].entries > 0
    assert [s.code for s in result.sections][:3] == ["patient", "payer", "treatment-directives"]
    # the person: one entry (the same BSN) held by the three that answered
    assert section(result, "patient") == [("Patient", sorted([HOSPITAL_URA, PRACTICE_URA, PHARMACY_URA]))]
    # the allergy: the same identifier at hospital and GP; the problem: the same content, no identifier
    assert section(result, "allergies") == [("AllergyIntolerance", sorted([HOSPITAL_URA, PRACTICE_URA]))]
    assert section(result, "problems") == [("Condition", sorted([HOSPITAL_URA, PRACTICE_URA]))]
    # two different agreements stay two entries; the dispense is the pharmacy's
    assert sorted(section(result, "medication")) == [
        ("MedicationDispense", [PHARMACY_URA]), ("MedicationRequest", [HOSPITAL_URA]),
        ("MedicationRequest", [PRACTICE_URA])]
    assert section(result, "vital-signs") == [("Observation", [HOSPITAL_URA])]
    allergy = next(s for s in result.sections if s.code == "allergies").entries[0]
    assert allergy.resource["note"][0]["text"] == "Huiduitslag"  # the first custodian's copy
    assert all(src.reference.startswith("AllergyIntolerance/") for src in allergy.sources)

    bundle = result.to_bundle()
    assert bundle["type"] == "collection"
    outcome = bundle_resources(bundle, "OperationOutcome")[0]
    assert [i["code"] for i in outcome["issue"]] == ["forbidden"] + ["informational"] * 4
    assert NURSING_URA in outcome["issue"][0]["diagnostics"]
    entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "AllergyIntolerance")
    assert entry["fullUrl"].startswith(net.custodians[HOSPITAL_URA].settings.base_url + "/AllergyIntolerance/")
    sources = [x for x in entry["extension"] if x["url"].endswith("exchange-source")]
    assert len(sources) == 2


def test_a_custodian_down_and_a_slow_one_are_reported_while_the_rest_answers(
        tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model, unavailable=True, timeout_s=2.0) as net:
        exchange = net.requester.services["exchange"]
        started = time.perf_counter()
        result = exchange.bgz(TEST_BSN, attestation=net.attestation())
        elapsed = time.perf_counter() - started
    reports = {r.ura: r for r in result.custodians}
    assert reports[DOWN_URA].status == "unreachable", reports[DOWN_URA]
    assert reports[SLOW_URA].status == "timeout", reports[SLOW_URA]
    assert "2 s" in reports[SLOW_URA].reason
    assert reports[HOSPITAL_URA].status == reports[PRACTICE_URA].status == "ok"
    assert elapsed < 2.0 + 2.5, elapsed  # the slow custodian's limit, plus the others' own time; never its 7 s
    assert section(result, "allergies") == [("AllergyIntolerance", sorted([HOSPITAL_URA, PRACTICE_URA]))]
    issues = bundle_resources(result.to_bundle(), "OperationOutcome")[0]["issue"]
    assert {i["code"] for i in issues} == {"forbidden", "transient", "timeout", "informational"}


def test_the_api_answers_the_node_own_professionals_and_is_audited(
        tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        base = net.requester.settings.base_url
        attestation = net.attestation()
        token = net.own_token()

        def ask(params: dict[str, str], token: str | None, operation: str = "$bgz") -> httpx.Response:
            """POST ``params`` as a Parameters body (the patient as a BSN identifier, the rest as strings)."""
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            parameter = [{"name": "patient", "valueIdentifier": {"system": BSN, "value": value}} if name == "patient"
                         else {"name": name, "valueString": value} for name, value in params.items()]
            return httpx.post(f"{base}/{operation}", headers=headers, timeout=60,
                              json={"resourceType": "Parameters", "parameter": parameter})

        def refused(response: httpx.Response, status: int) -> str:
            assert response.status_code == status, response.text
            assert response.json()["resourceType"] == "OperationOutcome"
            return response.json()["issue"][0]["diagnostics"]

        posted = ask({"patient": TEST_BSN, "attestation": attestation}, token)
        assert posted.status_code == 200, posted.text
        bundle = posted.json()
        assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"Patient", "AllergyIntolerance",
                                                                             "OperationOutcome"}
        medication = ask({"patient": TEST_BSN, "attestation": attestation}, net.own_token("medication-transfer"),
                         "$medication-overview")
        assert medication.status_code == 200, medication.text
        # the attestation in a URL (logs, proxies): refused, whatever the method; nothing fetched
        for operation, purpose in (("$bgz", "bgz"), ("$medication-overview", "medication-transfer")):
            in_url = httpx.get(f"{base}/{operation}", params={"patient": TEST_BSN, "attestation": attestation},
                               headers={"Authorization": f"Bearer {net.own_token(purpose)}"}, timeout=60)
            assert "POST" in refused(in_url, 400) and "Parameters" in refused(in_url, 400)
        also_in_url = httpx.post(f"{base}/$bgz", params={"attestation": attestation}, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"resourceType": "Parameters", "parameter": [
                                     {"name": "patient", "valueIdentifier": {"system": BSN, "value": TEST_BSN}}]})
        assert "POST" in refused(also_in_url, 400)
        # GET without the attestation: told to POST it
        assert "POST" in refused(httpx.get(f"{base}/$bgz", params={"patient": TEST_BSN}, timeout=60,
                                           headers={"Authorization": f"Bearer {token}"}), 400)

        request = FhirRequest("GET", "AuditEvent", [("_count", "100")], base_url=base, access=OPERATOR_CONTEXT)
        events = [e["resource"] for e in orjson.loads(net.requester.router.handle(request).payload() or b"{}")["entry"]]
        calls = [e for e in events if "$bgz" in orjson.dumps(e).decode()]
        assert sorted(e["outcome"] for e in calls) == ["0", "4", "4", "4"]
        assert all(TEST_BSN in orjson.dumps(e).decode() for e in calls)

        assert "attestation" in refused(ask({"patient": TEST_BSN}, token), 400)
        assert "BSN" in refused(ask({"patient": "123456789", "attestation": attestation}, token), 400)
        refused(ask({"patient": TEST_BSN, "attestation": attestation}, None), 401)
        # another organisation, with its own professional and a token at this node for the same person
        oost = net.orgs[HOSPITAL_URA]
        foreign = get_token(base, oost, scopes="system/Patient.rs", purpose="bgz", patient=TEST_BSN,
                            professional=net.attestation(ura=oost.ura))
        assert "$bgz" in refused(ask({"patient": TEST_BSN, "attestation": net.attestation(ura=oost.ura)}, foreign), 403)
        # the token's person is not the asked one
        assert "another person" in refused(ask({"patient": BSNS[1], "attestation": attestation}, token), 403)
        # a token for the medication overview does not open the BgZ
        refused(ask({"patient": TEST_BSN, "attestation": attestation}, net.own_token("medication-transfer")), 403)
        # an attestation of another professional than the token's
        someone = net.attestation(uzi="900000077")
        assert "another professional" in refused(ask({"patient": TEST_BSN, "attestation": someone}, token), 403)
        # a role the rule does not admit (a nurse, not a nurse specialist)
        nurse = net.attestation(role="30.000")
        refused(ask({"patient": TEST_BSN, "attestation": nurse}, net.own_token(professional=nurse)), 403)
