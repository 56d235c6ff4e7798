"""The HTTP API of the Exchange service on the requesting node: ``[base]/$bgz`` and ``[base]/$medication-overview``.

``POST [base]/$bgz`` with a Parameters resource with ``patient`` and ``attestation`` answers the merged BgZ as a
collection Bundle (:meth:`BgzResult.to_bundle`); ``$medication-overview`` the medication overview likewise. Both
need the attestation, a credential, so neither takes its arguments from a URL (access logs, proxies, the audit
trail's query): ``patient`` or ``attestation`` in the query string, and any ``GET``, is answered 400 with what to
send instead.

Who may call: the policy's ``exchange-request`` rule (added where this service is installed), this node's own organisation only, with a token of its own
node for purpose ``bgz`` (``$bgz``) or ``medication-transfer`` (``$medication-overview``) bound to the person
(``patient=BSN``) and carrying the professional's attestation. The professional attestation to pass on to the
custodians is the ``attestation`` parameter; it must be a current attestation of a trusted professional IdP for
the same professional as the token's. The router audits the call (the token's person is the patient of the entry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from samen.api.messages import FhirRequest, FhirResponse
from samen.auth.attestations import AttestationError, verify_professional
from samen.auth.context import AccessContext, Professional
from samen.auth.policy import BGZ, EXCHANGE_REQUEST_RULES, MEDICATION, SYSTEM
from samen.auth.trust import TrustList
from samen.exchange.bgz import BgzResult, Exchange, LocalizationFailed
from samen.exchange.medication import MedicationOverview
from samen.fhir.outcome import FhirError, bad_request
from samen.sample import BSN, elfproef
from samen.store.store import Session

if TYPE_CHECKING:
    from samen.node import Node

OPERATIONS = {"$bgz": BGZ, "$medication-overview": MEDICATION}  # operation -> the purpose its token must name
POST_PARAMETERS = "POST a Parameters resource with 'patient' (the BSN) and 'attestation'"


def register(node: Node, exchange: Exchange) -> None:
    """Serve the operations, and permit them to this node's own professionals (rule ``exchange-request``); GET
    only to tell a caller to POST."""
    node.router.enforcer.policy.add_rules(EXCHANGE_REQUEST_RULES)
    for name, purpose in OPERATIONS.items():
        serve = _operation(exchange, node.auth.trust, name, purpose)
        for method in ("GET", "POST"):
            node.router.register_operation(method, name, serve, writes=False)


def _operation(exchange: Exchange, trust: TrustList, name: str,
               purpose: str) -> Callable[[Session, FhirRequest], FhirResponse]:
    def serve(session: Session, request: FhirRequest) -> FhirResponse:
        bsn, attestation = _arguments(request)
        _check_caller(request, trust, bsn, attestation, purpose, name)
        try:
            if name == "$bgz":
                result: BgzResult | MedicationOverview = exchange.bgz(bsn, attestation=attestation)
            else:
                result = exchange.medication_overview(bsn, attestation=attestation)
        except LocalizationFailed as error:
            raise FhirError(502, str(error), "transient") from error
        return ExchangeResponse(200, body=result.to_bundle(), result=result)

    return serve


@dataclass
class ExchangeResponse(FhirResponse):
    """The operation's answer, with the result its Bundle was made from for a caller in this process."""

    result: BgzResult | MedicationOverview | None = None


def ask(node: Node, professional: Professional, bsn: str, attestation: str, purpose: str, *,
        client: str) -> BgzResult | MedicationOverview:
    """``$bgz`` (purpose ``bgz``) or ``$medication-overview`` (``medication-transfer``) asked in-process as
    ``professional`` of this organisation (``samen bgz``, the clinician view): through the router as a call over
    HTTP is, so the policy judges it and the audit trail records it. The attestation goes in a Parameters body,
    not in the query the trail keeps. Raises :class:`FhirError` (403 when refused, 404 without the exchange)."""
    context = AccessContext(SYSTEM, frozenset({"system/Patient.rs"}), client_ura=node.auth.ura,
                            client_type=node.settings.organisation_type, professional=professional, purpose=purpose,
                            patient_bsn=bsn)
    operation = next(name for name, wanted in OPERATIONS.items() if wanted == purpose)
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueIdentifier": {"system": BSN, "value": bsn}},
        {"name": "attestation", "valueString": attestation}]}
    request = FhirRequest("POST", operation, body=parameters, base_url=node.settings.base_url, access=context,
                          client=client)
    response = node.router.handle(request)
    if not isinstance(response, ExchangeResponse) or response.result is None:
        raise FhirError(500, f"{operation} answered without a result", "exception")
    return response.result


def _arguments(request: FhirRequest) -> tuple[str, str]:
    """``patient`` and ``attestation`` from a POSTed Parameters body; 400 when in the URL, missing or malformed."""
    if request.method != "POST" or any(key in ("patient", "attestation") for key, _ in request.params):
        raise bad_request(f"{POST_PARAMETERS}; the attestation is a credential and must not be in a URL")
    body = request.body
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise bad_request(f"the body must be a Parameters resource: {POST_PARAMETERS}")
    values: dict[str, list[str]] = {}
    for parameter in body.get("parameter") or []:
        value: Any = parameter.get("valueString") or (parameter.get("valueIdentifier") or {}).get("value")
        if isinstance(value, str):
            values.setdefault(str(parameter.get("name")), []).append(value)
    patients, attestations = values.get("patient", []), values.get("attestation", [])
    if len(patients) != 1 or len(attestations) > 1:
        raise bad_request("give the person's BSN once as 'patient' and the attestation at most once")
    bsn = patients[0].rsplit("|", 1)[-1]
    if not elfproef(bsn):
        raise bad_request(f"'patient' is not a valid BSN: {bsn[:20]!r}")
    if not attestations or not attestations[0]:
        raise bad_request("the professional's attestation ('attestation') is required: the custodians need it",
                          "required")
    return bsn, attestations[0]


def _check_caller(request: FhirRequest, trust: TrustList, bsn: str, attestation: str, purpose: str,
                  name: str) -> None:
    """The policy admitted the caller; these are the checks that need the request's values (403 otherwise)."""
    context = request.access
    if context is None or context.purpose != purpose:
        raise FhirError(403, f"{name} needs a token for purpose {purpose}", "forbidden")
    if context.patient_bsn != bsn:
        raise FhirError(403, f"{name}: the token is bound to another person than 'patient'", "forbidden")
    try:
        professional = verify_professional(attestation, trust)
    except AttestationError as error:
        raise FhirError(403, f"the attestation is not acceptable: {error}", "forbidden") from error
    if (context.professional is None or professional.uzi != context.professional.uzi
            or professional.ura != context.client_ura):
        raise FhirError(403, "the attestation names another professional or organisation than the token",
                        "forbidden")
