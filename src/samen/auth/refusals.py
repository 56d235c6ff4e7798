"""Refused requests on the audit trail: a FHIR AuditEvent in the node's own store, and a log line.

Every 401 and 403, whether authentication or the policy refused, is recorded (NEN 7513: who, on
behalf of which organisation, which patient, what, when, why, from where, the outcome and the rule).
The patient appears only as a BSN identifier in the AuditEvent's entity, never in the log line.
Issue 7 makes the trail complete (every access, not only refusals) and hash-chained; it replaces
:class:`AuditTrail` behind the same one-method interface, :class:`RefusalRecorder`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from samen.auth.context import AccessContext
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.sample import BSN, URA, UZI
from samen.store.store import Store

UZI_ROLE = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_NETWORK_IP = "2"
MINOR_FAILURE, SERIOUS_FAILURE = "4", "8"

log = structlog.get_logger("samen.audit")


@dataclass(frozen=True)
class RefusedAccess:
    """One refused request, as much as is known of it."""

    status: int  # 401 (not authenticated) or 403 (not allowed)
    reason: str  # what the client was told
    rule: str  # the policy rule that refused, or "authentication"
    detail: str  # why, for the audit trail and the log only
    context: AccessContext | None  # None: the caller was not authenticated
    method: str
    path: str  # relative to the FHIR base, e.g. "Observation/12"
    query: str  # the query string as sent (may name a patient: kept in the AuditEvent only)
    interaction: str = ""  # the FHIR interaction, when the request got that far
    res_type: str | None = None
    client_address: str = ""


class RefusalRecorder(Protocol):
    def record_refusal(self, refused: RefusedAccess) -> None: ...


class AuditTrail:
    """Stores each refusal as an AuditEvent in the node's own store and logs it without the patient."""

    def __init__(self, store: Store, base_url: str) -> None:
        self.store = store
        self.base_url = base_url

    def record_refusal(self, refused: RefusedAccess) -> None:
        event = audit_event(refused, observer=self.base_url, recorded_ms=now_ms())
        with self.store.session(write=True) as session:
            stored = session.create(event)
        context = refused.context
        log.warning(
            "access refused", status=refused.status, rule=refused.rule, reason=refused.reason,
            detail=refused.detail, method=refused.method, path=refused.path,
            client=context.client_ura if context else "", kind=context.kind if context else "",
            professional=context.professional.uzi if context and context.professional else "",
            purpose=context.purpose if context else "", token=context.token_id if context else "",
            patient_bound=context.patient_bound if context else False,
            client_address=refused.client_address, audit_event=stored.res_id,
        )


def audit_event(refused: RefusedAccess, *, observer: str, recorded_ms: int) -> dict[str, Any]:
    """The AuditEvent (FHIR R4) of one refusal."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": _EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "action": _action(refused),
        "recorded": ms_to_instant(recorded_ms),
        "outcome": MINOR_FAILURE if refused.status == 401 else SERIOUS_FAILURE,
        "outcomeDesc": f"{refused.status} refused by {refused.rule}: {refused.reason} ({refused.detail})",
        "agent": _agents(refused),
        "source": {
            "observer": {"display": observer},
            "type": [{"system": _SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(refused),
    }
    subtype = _subtype(refused)
    if subtype:
        event["subtype"] = [{"system": _INTERACTION, "code": subtype}]
    if refused.context is not None and refused.context.purpose:
        event["purposeOfEvent"] = [{"text": refused.context.purpose}]
    return event


_ACTIONS = {"create": "C", "read": "R", "vread": "R", "history": "R", "update": "U", "patch": "U", "delete": "D"}
_METHOD_ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}


def _action(refused: RefusedAccess) -> str:
    """C, R, U, D or E (execute: searches, operations, Bundles); by method when the request was not routed."""
    interaction = refused.interaction.removeprefix("conditional-")
    if interaction:
        return _ACTIONS.get(interaction, "E")
    return _METHOD_ACTIONS.get(refused.method, "E")


def _subtype(refused: RefusedAccess) -> str:
    """The restful-interaction code (search-type, history-instance, ...); "" when the request was not routed."""
    interaction = refused.interaction.removeprefix("conditional-")
    if interaction == "search":
        return "search-system" if refused.res_type is None else "search-type"
    if interaction == "history":
        named = [s for s in refused.path.split("/") if s and not s.startswith("_")]
        return f"history-{('system', 'type', 'instance')[min(len(named), 2)]}"
    return interaction


def _agents(refused: RefusedAccess) -> list[dict[str, Any]]:
    context = refused.context
    network = {"address": refused.client_address, "type": _NETWORK_IP} if refused.client_address else None
    agents: list[dict[str, Any]] = []
    if context is None:
        agents.append({"who": {"display": "unauthenticated client"}, "requestor": True})
    elif context.kind == "patient":
        agents.append({"who": {"display": f"citizen through app {context.client_ura}"}, "requestor": True})
    else:
        professional = context.professional
        organisation: dict[str, Any] = {"who": {"identifier": {"system": URA, "value": context.client_ura}},
                                        "requestor": professional is None}
        if professional is not None:
            agents.append({
                "who": {"identifier": {"system": UZI, "value": professional.uzi}, "display": professional.name},
                "role": [{"coding": [{"system": UZI_ROLE, "code": professional.role}]}],
                "requestor": True,
            })
        agents.append(organisation)
    if context is not None and context.token_id:
        agents[0]["policy"] = [context.token_id]  # the access token (its jti) the request came with
    if network is not None:
        agents[0]["network"] = network
    return agents


def _entities(refused: RefusedAccess) -> list[dict[str, Any]]:
    asked: dict[str, Any] = {
        "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
        "description": f"{refused.method} {refused.path or '[base]'}",
    }
    segments = [s for s in refused.path.split("/") if s]
    if len(segments) >= 2 and not segments[1].startswith(("_", "$")):
        asked["what"] = {"reference": f"{segments[0]}/{segments[1]}"}
    if refused.query:
        asked["query"] = base64.b64encode(refused.query.encode()).decode()
        asked["role"] = {"system": _OBJECT_ROLE, "code": "24", "display": "Query"}
    entities = [asked]
    context = refused.context
    if context is not None and context.patient_bsn:
        entities.append({
            "what": {"identifier": {"system": BSN, "value": context.patient_bsn}},
            "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"},
        })
    return entities
