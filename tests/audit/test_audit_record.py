"""The trail keeps the facts of an access (a compact record) and renders its AuditEvent when read: the rendering
must say exactly what rendering the access itself says, for every kind of access."""

from __future__ import annotations

import orjson
import pytest

from samen.audit.events import DISCLOSURE, EXPORT, Access, audit_event, audit_event_of, record
from samen.auth.context import AccessContext, Professional

OBSERVER = "https://ziekenhuis.example/fhir"
RECORDED_MS = 1_764_000_000_123
DOCTOR = Professional("900000001", "01.015", "87654321", "Dr. A. Bakker")

ACCESSES = {
    "unauthenticated refusal": Access("GET", "Patient/1", status=401, rule="authentication", reason="no token",
                                      detail="missing Authorization", client_address="10.0.0.7"),
    "professional read with consent": Access(
        "GET", "Observation/12", interaction="read", res_type="Observation",
        context=AccessContext("system", frozenset({"system/*.rs"}), client_ura="87654321", professional=DOCTOR,
                              purpose="bgz", token_id="jti-1", patient_bsn="999990019"),
        client_address="10.0.0.8", resources=("Observation/12/_history/2",), patient_bsn="999990019",
        patient_ref="Patient/3", consent={"decision": "permit", "rule": "mitz-1"}),
    "break the glass search": Access(
        "GET", "Condition", query="patient=Patient/3&_count=10", interaction="search", res_type="Condition",
        context=AccessContext("system", frozenset(), client_ura="87654321", professional=DOCTOR,
                              purpose="acute-care", reason="bewusteloos binnengebracht"),
        resources=("Condition/1/_history/1", "Condition/2/_history/4"), patient_ref="Patient/3"),
    "policy refusal": Access("GET", "MedicationRequest", query="patient=Patient/3", interaction="search",
                             res_type="MedicationRequest",
                             context=AccessContext("system", frozenset(), client_ura="11112222", purpose="bgz"),
                             status=403, rule="consent", reason="the patient said no", detail="mitz: deny"),
    "citizen export": Access("GET", "Patient/3/$everything", interaction="operation", kind=EXPORT,
                             context=AccessContext("patient", frozenset(), client_ura="pgo-app", token_id="jti-2"),
                             patient_bsn="999990019"),
    "disclosure": Access("POST", "$bgz", interaction="operation", kind=DISCLOSURE, status=200,
                         context=AccessContext("operator", frozenset())),
    "server failure": Access("PUT", "Patient/3", interaction="update", res_type="Patient", status=500,
                             reason="database unavailable", context=AccessContext("open", frozenset())),
}


@pytest.mark.parametrize("name", ACCESSES)
def test_the_rendered_record_is_the_audit_event_of_the_access(name: str) -> None:
    access = ACCESSES[name]
    assert audit_event_of(record(access, OBSERVER), RECORDED_MS) == audit_event(access, observer=OBSERVER,
                                                                                 recorded_ms=RECORDED_MS)


def test_an_entry_from_before_records_holds_its_audit_event() -> None:
    event = audit_event(ACCESSES["policy refusal"], observer=OBSERVER, recorded_ms=RECORDED_MS)
    assert audit_event_of(orjson.dumps(event), RECORDED_MS + 5) == event


def test_a_record_is_much_smaller_than_the_audit_event() -> None:
    access = ACCESSES["professional read with consent"]
    rendered = orjson.dumps(audit_event(access, observer=OBSERVER, recorded_ms=RECORDED_MS))
    assert len(record(access, OBSERVER)) < len(rendered) / 2
