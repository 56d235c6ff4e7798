"""What one access is, and its FHIR R4 AuditEvent in the shape NEN 7513 asks for.

An :class:`Access` is filled in by whoever served (or refused) the request: the router for REST
interactions, Bundles and operations, the HTTP layer for refused tokens. The trail keeps (and hashes)
its :func:`record`, the facts in a compact JSON list, and :func:`audit_event_of` renders that as an
AuditEvent when the trail is read: which professional (UZI, role), on behalf of which organisation
(URA), which patient (BSN as an entity identifier), what action on which data (the resources, with
version, or the query), when, why (purpose of use, consent, a break-the-glass reason), from where
(network address) and the outcome. Rendering at read time instead of for every access keeps the
audit's share of a read small: the record is a fifth of the AuditEvent's size and a fraction of its
cost to make, and the trail is read far less often than it is written.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from samen.auth.context import AccessContext, Professional
from samen.auth.policy import ACUTE_CARE
from samen.fhir.primitives import ms_to_instant
from samen.sample import BSN, URA, UZI

UZI_ROLE = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"
ACCESS_KIND = "http://samen.nl/fhir/CodeSystem/audit-access-kind"  # read, search, ..., export, disclosure
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
BREAK_THE_GLASS = "BTG"  # purposeOfEvent code of an access under the acute-care exception (break-the-glass)
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_DICOM = "http://dicom.nema.org/resources/ontology/DCM"
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_NETWORK_IP = "2"
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE, MAJOR_FAILURE = "0", "4", "8", "12"
EXPORT, DISCLOSURE = "export", "disclosure"  # kinds of access beyond the REST interactions

_ACTIONS = {"create": "C", "read": "R", "vread": "R", "history": "R", "update": "U", "patch": "U", "delete": "D",
            DISCLOSURE: "R"}
_METHOD_ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
_RESTFUL = {"read", "vread", "update", "patch", "delete", "create", "search-type", "search-system", "history-instance",
            "history-type", "history-system", "operation", "batch", "transaction", "capabilities"}


@dataclass
class Access:
    """One request as the audit trail sees it; filled in as the request is routed, judged and served."""

    method: str
    path: str  # relative to the FHIR base, e.g. "Observation/12"
    query: str = ""  # the query string as sent (may name a patient: kept in the AuditEvent only, never logged)
    interaction: str = ""  # the FHIR interaction (PolicyRequest.interaction), when the request got that far
    res_type: str | None = None
    context: AccessContext | None = None  # None: the caller was not authenticated
    client_address: str = ""
    status: int = 200  # what the client got
    rule: str = ""  # the policy rule that permitted or refused, or "authentication"
    reason: str = ""  # what a refused or failed client was told
    detail: str = ""  # why, for the trail only
    kind: str = ""  # "export" or "disclosure" for the bulk data operations; "": the interaction says it
    resources: tuple[str, ...] = ()  # "Type/id/_history/version" of what was read or written
    patient_bsn: str = ""  # the patient whose data it is, when known
    patient_ref: str = ""  # "Patient/id" on this node, when known
    consent: dict[str, Any] | None = None  # the consent answer the grant carried (decision, rule, ...)

    @property
    def outcome(self) -> str:
        """0 success, 4 refused authentication or a client error, 8 refused by the policy, 12 a server failure."""
        if self.status < 400:
            return SUCCESS
        if self.status == 403:
            return SERIOUS_FAILURE
        return MAJOR_FAILURE if self.status >= 500 else MINOR_FAILURE

    @property
    def action(self) -> str:
        """C, R, U, D or E (execute: searches, operations, exports); by method when the request was not routed."""
        if self.kind:
            return _ACTIONS.get(self.kind, "E")
        interaction = self.interaction.removeprefix("conditional-")
        if interaction:
            return _ACTIONS.get(interaction, "E")
        return _METHOD_ACTIONS.get(self.method, "E")

    @property
    def patient_key(self) -> str:
        """What the trail is searched by for "who looked at my record": the BSN, else the Patient reference."""
        return self.patient_bsn or self.patient_ref

    @property
    def organisation(self) -> str:
        return self.context.client_ura if self.context is not None and self.context.kind == "system" else ""

    @property
    def purpose(self) -> str:
        return self.context.purpose if self.context is not None else ""

    @property
    def break_the_glass(self) -> bool:
        return self.purpose == ACUTE_CARE


RECORD_VERSION = 1  # the first element of a record: how its list is laid out


def record(access: Access, observer: str) -> bytes:
    """The facts of ``access`` as the trail keeps them (``observer``: the node's base URL)."""
    context = access.context
    professional = context.professional if context is not None else None
    return orjson.dumps([
        RECORD_VERSION, observer, access.method, access.path, access.query, access.interaction, access.res_type,
        access.status, access.rule, access.reason, access.detail, access.kind, access.resources, access.patient_bsn,
        access.patient_ref, access.consent, access.client_address,
        None if context is None else [
            context.kind, context.client_ura, context.purpose, context.reason, context.token_id,
            None if professional is None else [professional.uzi, professional.role, professional.ura, professional.name],
        ],
    ])


def audit_event_of(stored: bytes, recorded_ms: int) -> dict[str, Any]:
    """The AuditEvent of a trail entry: its record rendered (an entry from before records holds the AuditEvent)."""
    if stored.startswith(b"{"):
        return orjson.loads(stored)
    (_version, observer, method, path, query, interaction, res_type, status, rule, reason, detail, kind, resources,
     patient_bsn, patient_ref, consent, client_address, context) = orjson.loads(stored)
    access_context = None
    if context is not None:
        context_kind, client_ura, purpose, why, token_id, professional = context
        access_context = AccessContext(context_kind, frozenset(), client_ura=client_ura, purpose=purpose, reason=why,
                                       token_id=token_id,
                                       professional=Professional(*professional) if professional else None)
    access = Access(method, path, query, interaction, res_type, access_context, client_address, status, rule, reason,
                    detail, kind, tuple(resources), patient_bsn, patient_ref, consent)
    return audit_event(access, observer=observer, recorded_ms=recorded_ms)


def audit_event(access: Access, *, observer: str, recorded_ms: int) -> dict[str, Any]:
    """The AuditEvent (FHIR R4) of one access or refusal."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _event_type(access),
        "action": access.action,
        "recorded": ms_to_instant(recorded_ms),
        "outcome": access.outcome,
        "agent": _agents(access),
        "source": {
            "observer": {"display": observer},
            "type": [{"system": _SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(access),
    }
    subtype = _subtypes(access)
    if subtype:
        event["subtype"] = subtype
    description = _outcome_description(access)
    if description:
        event["outcomeDesc"] = description
    purpose = _purpose(access)
    if purpose:
        event["purposeOfEvent"] = purpose
    return event


def _event_type(access: Access) -> dict[str, str]:
    if access.kind == EXPORT:
        return {"system": _DICOM, "code": "110106", "display": "Export"}
    return {"system": _EVENT_TYPE, "code": "rest", "display": "RESTful Operation"}


def _subtypes(access: Access) -> list[dict[str, str]]:
    """The restful-interaction code (search-type, history-instance, ...) and samen's kind of access."""
    interaction = access.interaction.removeprefix("conditional-")
    if interaction == "search":
        interaction = "search-system" if access.res_type is None else "search-type"
    elif interaction == "history":
        named = [s for s in access.path.split("/") if s and not s.startswith("_")]
        interaction = f"history-{('system', 'type', 'instance')[min(len(named), 2)]}"
    codes = [{"system": _INTERACTION, "code": interaction}] if interaction in _RESTFUL else []
    if access.kind:
        codes.append({"system": ACCESS_KIND, "code": access.kind})
    return codes


def _outcome_description(access: Access) -> str:
    if access.status in (401, 403):
        return f"{access.status} refused by {access.rule}: {access.reason} ({access.detail})"
    if access.status >= 400:
        return f"{access.status} failed: {access.reason}"
    parts = []
    if access.consent:
        parts.append("consent: " + ", ".join(f"{k}={v}" for k, v in sorted(access.consent.items())))
    if access.context is not None and access.context.reason:
        parts.append(f"reason: {access.context.reason}")
    return "; ".join(parts)


def _purpose(access: Access) -> list[dict[str, Any]]:
    if not access.purpose:
        return []
    purpose: dict[str, Any] = {"text": access.purpose}
    if access.break_the_glass:
        purpose["coding"] = [{"system": ACT_REASON, "code": BREAK_THE_GLASS, "display": "break the glass"}]
        if access.context is not None and access.context.reason:
            purpose["text"] = f"{access.purpose}: {access.context.reason}"
    return [purpose]


def _agents(access: Access) -> list[dict[str, Any]]:
    context = access.context
    agents: list[dict[str, Any]] = []
    if context is None:
        agents.append({"who": {"display": "unauthenticated client"}, "requestor": True})
    elif context.kind == "patient":
        agents.append({"who": {"display": f"citizen through app {context.client_ura}"}, "requestor": True})
    elif context.kind in ("open", "operator"):
        agents.append({"who": {"display": f"{context.kind} access (no token)"}, "requestor": True})
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
    if access.client_address:
        agents[0]["network"] = {"address": access.client_address, "type": _NETWORK_IP}
    return agents


def _entities(access: Access) -> list[dict[str, Any]]:
    asked: dict[str, Any] = {
        "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
        "description": f"{access.method} {access.path or '[base]'}",
    }
    segments = [s for s in access.path.split("/") if s]
    if len(segments) >= 2 and not segments[1].startswith(("_", "$")):
        asked["what"] = {"reference": f"{segments[0]}/{segments[1]}"}
    if access.query:
        asked["query"] = base64.b64encode(access.query.encode()).decode()
        asked["role"] = {"system": _OBJECT_ROLE, "code": "24", "display": "Query"}
    entities = [asked]
    for reference in access.resources:  # what was read or written, with its version
        if "what" in asked and reference.startswith(asked["what"]["reference"] + "/_history/"):
            asked["what"] = {"reference": reference}
        else:
            entities.append({"what": {"reference": reference},
                             "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"}})
    if access.patient_bsn or access.patient_ref:
        patient: dict[str, Any] = {
            "what": {},
            "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
        if access.patient_ref:
            patient["what"]["reference"] = access.patient_ref
        if access.patient_bsn:
            patient["what"]["identifier"] = {"system": BSN, "value": access.patient_bsn}
        entities.append(patient)
    return entities
