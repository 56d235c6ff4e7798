"""``$validate`` on every resource type: would this resource be accepted, and if not, why?

The answer is the OperationOutcome the validator gives, with 200 OK whether or not the resource is
valid; 4xx means the validation itself could not be done (no resource, an unknown profile, ...).
Modes: none (general), ``create``, ``update`` (instance level, the ids must agree) and ``delete``
(instance level; the node keeps no referential integrity, so a delete of a live resource is allowed).
"""

from __future__ import annotations

from typing import Any

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Operation, Router
from samen.fhir import outcome
from samen.fhir.admission import Admission, is_error
from samen.fhir.conformance import Conformance
from samen.fhir.outcome import FhirError, Issue
from samen.store.store import Session

MODES = ("create", "update", "delete")


def register(router: Router, admission: Admission, conformance: Conformance) -> None:
    for res_type in router.model.resource_types:
        for pattern, instance in ((f"{res_type}/$validate", False), (f"{res_type}/{{id}}/$validate", True)):
            operation = _operation(admission, conformance, res_type, instance)
            router.register_operation("POST", pattern, operation, writes=False)


def _operation(admission: Admission, conformance: Conformance, res_type: str, instance: bool) -> Operation:
    def validate(session: Session, request: FhirRequest) -> FhirResponse:
        res_id = request.segments[1] if instance else None
        resource, mode, profile = _arguments(request)
        if mode in ("update", "delete") and res_id is None:
            raise outcome.bad_request(f"Mode '{mode}' needs the instance level: {res_type}/[id]/$validate")
        if mode == "delete":
            return _result(_delete_issues(session, res_type, res_id or ""))
        if resource is None:
            raise outcome.bad_request("Give the resource to validate as the body or as the 'resource' parameter")
        if profile is not None and conformance.structure_definition(profile) is None:
            raise FhirError(400, f"Unknown profile {profile}", "not-supported")
        if profile is not None and admission.validator is None:
            raise FhirError(400, "Validation is switched off on this node", "not-supported")
        issues = _mode_issues(mode, res_id, resource)
        issues += admission.issues(resource, res_type, [profile] if profile else [])
        return _result(issues)

    return validate


def _arguments(request: FhirRequest) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The resource, mode and profile, from a Parameters body or a plain resource body plus the query."""
    query = dict(request.params)
    mode, profile = query.get("mode"), query.get("profile")
    body = request.body
    resource = body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        resource = None
        parameters = body.get("parameter") or []
        if not isinstance(parameters, list) or not all(isinstance(p, dict) for p in parameters):
            raise outcome.bad_request("Parameters.parameter must be a list of objects")
        for parameter in parameters:
            name = parameter.get("name")
            if name == "resource":
                resource = parameter.get("resource")
            elif name == "mode":
                mode = parameter.get("valueCode") or parameter.get("valueString")
            elif name == "profile":
                profile = parameter.get("valueCanonical") or parameter.get("valueUri") or parameter.get("valueString")
    if profile is not None and not isinstance(profile, str):
        raise outcome.bad_request("The profile parameter must be a canonical URL")
    if mode is not None and mode not in MODES:
        raise outcome.bad_request(f"Unknown mode '{mode}'; use one of {', '.join(MODES)}")
    return resource, mode, profile


def _mode_issues(mode: str | None, res_id: str | None, resource: Any) -> list[Issue]:
    given_id = resource.get("id") if isinstance(resource, dict) else None
    if mode == "update":
        if given_id != res_id:
            return [Issue("error", "invalid", f"The resource id '{given_id}' differs from the URL id '{res_id}'")]
    if mode == "create" and given_id is not None:
        return [Issue("warning", "informational", "A create ignores the id in the resource; the server assigns one")]
    return []


def _delete_issues(session: Session, res_type: str, res_id: str) -> list[Issue]:
    stored = session.read(res_type, res_id)
    if stored is None or stored.deleted:
        raise outcome.not_found(f"{res_type}/{res_id} is not known")
    return []


def _result(issues: list[Issue]) -> FhirResponse:
    if not any(is_error(issue) for issue in issues):
        issues = [*issues, Issue("information", "informational", "Validation found no errors")]
    return FhirResponse(200, body=outcome.operation_outcome(issues))
