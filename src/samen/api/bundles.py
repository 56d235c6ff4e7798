"""Batch and transaction Bundles.

A transaction runs every entry in one store session: all or nothing. Entries are processed in the
order the spec prescribes (DELETE, POST, PUT/PATCH, GET), ``urn:uuid`` and other full URLs of new
resources are replaced by the ids the server assigns, and conditional references such as
``Patient?identifier=...`` are resolved, before anything is written. A batch runs each entry in a
session of its own; one failing entry does not stop the others.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from itertools import groupby
from typing import TYPE_CHECKING, Any, cast

import orjson

from samen.api.interactions import criteria_params
from samen.api.messages import FhirRequest, FhirResponse
from samen.auth.enforcement import Grant, Refusal
from samen.fhir import outcome
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.store.store import Session

if TYPE_CHECKING:
    from samen.api.router import CreatesMany, Route, Router

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class Entry:
    index: int
    request: FhirRequest
    full_url: str | None
    assigned_id: str | None = None  # for creates: the id chosen before anything is written
    existing: bool = False  # for conditional creates that matched
    judged: tuple[Route, Grant] | None = None  # a transaction entry's route and grant, before any entry runs


def process_bundle(router: Router, request: FhirRequest) -> FhirResponse:
    bundle = request.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise outcome.bad_request("POST to the base URL takes a batch or transaction Bundle")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise outcome.bad_request(f"Bundle.type must be batch or transaction, not {kind!r}")
    entries = [_entry(i, raw, request) for i, raw in enumerate(bundle.get("entry") or [])]
    if kind == "batch":
        responses = [_batch_entry(router, entry) for entry in entries]
    else:
        with router.store.session(write=True) as session:
            responses = _transaction(router, session, entries)
            _audit_entries(router, session, entries, responses)
    body = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": ms_to_instant(now_ms())},
        "type": f"{kind}-response",
        "entry": [_response_entry(response, entry.request) for entry, response in zip(entries, responses)],
    }
    return FhirResponse(200, body=orjson.dumps(body))


def _audit_entries(router: Router, session: Session, entries: list[Entry], responses: list[FhirResponse]) -> None:
    """One audit entry per Bundle entry, in the transaction that wrote them (a batch entry audits itself)."""
    from samen.api.router import access_of

    if router.trail is None:
        return
    accesses = []
    for entry, response in zip(entries, responses):
        assert entry.judged is not None
        route, grant = entry.judged
        access = access_of(entry.request, route)
        router.describe(session, access, route, grant, response)
        accesses.append(access)
    router.trail.append(session, accesses)


def _entry(index: int, raw: Any, parent: FhirRequest) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise outcome.bad_request(f"{where} has no request")
    method, url = raw["request"].get("method"), raw["request"].get("url")
    if method not in _ORDER or not isinstance(url, str) or not url:
        raise outcome.bad_request(f"{where}.request needs a method (GET, POST, PUT, PATCH, DELETE) and a url")
    body = raw.get("resource")
    if method == "PATCH" and isinstance(body, dict) and body.get("resourceType") == "Binary":
        body = orjson.loads(_binary_data(body))
    if isinstance(body, dict) and body.get("resourceType") == "Bundle" and body.get("type") in ("batch", "transaction"):
        raise outcome.bad_request(f"{where}: bundles may not be nested")
    entry_request = FhirRequest.from_url(
        method,
        url.removeprefix(parent.base_url + "/"),
        body=body,
        if_match=raw["request"].get("ifMatch"),
        if_none_exist=raw["request"].get("ifNoneExist"),
        if_none_match=raw["request"].get("ifNoneMatch"),
        strict=parent.strict,
        prefer_return=parent.prefer_return,
        base_url=parent.base_url,
        access=parent.access,
        client=parent.client,
    )
    return Entry(index, entry_request, raw.get("fullUrl"))


def _binary_data(binary: dict[str, Any]) -> bytes:
    return base64.b64decode(binary.get("data", ""))


def _batch_entry(router: Router, entry: Entry) -> FhirResponse | outcome.FhirError:
    try:
        return router.handle(entry.request)
    except outcome.FhirError as error:
        return error


def _transaction(router: Router, session: Session, entries: list[Entry]) -> list[FhirResponse]:
    for entry in entries:  # every entry is judged before conditional criteria search or anything is written
        entry.judged = router.judge(entry.request)
    ordered = sorted(entries, key=lambda e: (_ORDER[e.request.method], e.index))
    deletes = [entry for entry in ordered if entry.request.method == "DELETE"]
    others = [entry for entry in ordered if entry.request.method != "DELETE"]
    responses = {entry.index: _execute_at(router, session, entry) for entry in deletes}
    # after the deletes, so that conditional creates and references see what the Bundle removed
    mapping = _assign_ids(router, session, others)
    for entry in others:
        if entry.request.body is not None:
            try:
                rewrite_references(router, session, entry.request, entry.request.body, mapping)
            except outcome.FhirError as error:
                raise _at_entry(error, entry) from error
    for res_type, group in groupby(others, key=lambda entry: _bulk_type(router, entry)):
        run = list(group)
        if res_type is None:
            responses.update({entry.index: _execute_at(router, session, entry) for entry in run})
        else:
            responses.update(_create_many(router, session, res_type, run))
    return [responses[entry.index] for entry in entries]


def _bulk_type(router: Router, entry: Entry) -> str | None:
    """The type of a plain ``POST [type]`` entry whose provider creates many at once (see CreatesMany)."""
    request = entry.request
    assert entry.judged is not None
    if request.method != "POST" or entry.judged[0].asked.interaction != "create" or len(request.segments) != 1:
        return None
    return request.segments[0] if hasattr(router.providers.get(request.segments[0]), "create_many") else None


def _create_many(router: Router, session: Session, res_type: str, run: list[Entry]) -> dict[int, FhirResponse]:
    """Consecutive creates of ``res_type`` in one call of its provider, each entry judged before (and audited
    after) as always; when the provider refuses, the entries are served one by one, so that the failing one
    is reported and audited exactly as on its own."""
    provider = cast("CreatesMany", router.providers[res_type])
    grants, new_ids = [], []
    for entry in run:
        assert entry.judged is not None and entry.assigned_id is not None  # judged and given an id before
        grants.append(entry.judged[1])
        new_ids.append(entry.assigned_id)
    try:
        responses = provider.create_many(session, [entry.request for entry in run], grants, new_ids)
    except outcome.FhirError:
        return {entry.index: _execute_at(router, session, entry) for entry in run}
    return {entry.index: response for entry, response in zip(run, responses, strict=True)}


def _execute_at(router: Router, session: Session, entry: Entry) -> FhirResponse:
    try:
        return _execute(router, session, entry)
    except Refusal:
        raise  # as it is: its OperationOutcome says only why, and the audit trail gets the entry
    except outcome.FhirError as error:
        raise _at_entry(error, entry) from error


def _assign_ids(router: Router, session: Session, ordered: list[Entry]) -> dict[str, str]:
    """Decide every new resource's id up front, so that references to it can be rewritten."""
    mapping: dict[str, str] = {}
    created_for: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}  # ifNoneExist criteria -> new id
    for entry in ordered:
        request = entry.request
        segments = request.segments
        if request.method == "POST" and len(segments) == 1:
            res_type = segments[0]
            if request.if_none_exist:
                criteria = criteria_params(request.if_none_exist)
                key = (res_type, tuple(sorted(criteria)))
                if key in created_for:  # an earlier entry of this Bundle creates it
                    entry.assigned_id, entry.existing = created_for[key], True
                else:
                    matches = _single(router, session, request, res_type, criteria, entry, "ifNoneExist")
                    if matches:
                        entry.assigned_id, entry.existing = matches[0], True
                    else:
                        entry.assigned_id = created_for[key] = str(uuid.uuid4())
            entry.assigned_id = entry.assigned_id or str(uuid.uuid4())
            if entry.full_url:
                mapping[entry.full_url] = f"{res_type}/{entry.assigned_id}"
        elif request.method == "PUT" and len(segments) == 1 and request.params:
            # a conditional update: resolve it now, so that references to its fullUrl can be rewritten
            matches = _single(router, session, request, segments[0], request.params, entry, "The conditional update")
            body = request.body if isinstance(request.body, dict) else {}
            res_id = matches[0] if matches else body.get("id") or str(uuid.uuid4())
            if isinstance(request.body, dict):
                request.body["id"] = res_id
            request.path, request.params = f"{segments[0]}/{res_id}", []
            if entry.full_url:
                mapping[entry.full_url] = request.path
        elif request.method == "PUT" and len(segments) == 2 and entry.full_url:
            mapping[entry.full_url] = "/".join(segments)
    return mapping


def _single(
    router: Router,
    session: Session,
    request: FhirRequest,
    res_type: str,
    criteria: list[tuple[str, str]],
    entry: Entry,
    what: str,
) -> list[str]:
    """The match of conditional criteria, under their lock; 412 (naming the entry) when several match."""
    matches = router.interactions.find_matches(session, request, res_type, criteria, lock=True)
    if len(matches) > 1:
        raise _at_entry(outcome.precondition_failed(f"{what} matches {len(matches)} resources"), entry)
    return matches


def rewrite_references(
    router: Router, session: Session, request: FhirRequest, node: Any, mapping: dict[str, str]
) -> None:
    """Replace placeholder and conditional references, in place, anywhere in the resource.

    ``mapping`` maps full URLs (``urn:uuid:...``) to ``Type/id``; a conditional reference
    (``Patient?identifier=...``) must match exactly one resource (412 otherwise) and is added to
    ``mapping``. Public so that ``samen import`` resolves references by the rules of ``POST [base]``.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                if value in mapping:
                    node[key] = mapping[value]
                elif "?" in value and not value.startswith(("http://", "https://", "urn:")):
                    matches = router.interactions.match_reference(session, request, value)
                    if len(matches) != 1:
                        raise outcome.precondition_failed(
                            f"Conditional reference '{value}' matches {len(matches)} resources, not exactly one"
                        )
                    node[key] = f"{value.split('?', 1)[0]}/{matches[0]}"
                    mapping[value] = node[key]
            else:
                rewrite_references(router, session, request, value, mapping)
    elif isinstance(node, list):
        for item in node:
            rewrite_references(router, session, request, item, mapping)


def _execute(router: Router, session: Session, entry: Entry) -> FhirResponse:
    request = entry.request
    assert entry.judged is not None
    route, grant = entry.judged
    if request.method == "POST" and len(request.segments) == 1:
        res_type = request.segments[0]
        if entry.existing:
            stored = session.read(res_type, entry.assigned_id or "")
            assert stored is not None
            return FhirResponse(200, stored=stored, location=f"{stored.reference}/_history/{stored.version}")
        request.if_none_exist = None  # already checked under the lock in _assign_ids
        return router.serve(session, request, route, grant, new_id=entry.assigned_id)
    if request.method == "PUT" and route.res_id is None:  # a conditional update that _assign_ids resolved
        route = router.route(request)
    return router.serve(session, request, route, grant)


def _at_entry(error: outcome.FhirError, entry: Entry) -> outcome.FhirError:
    detail = f"Bundle.entry[{entry.index}] ({entry.request.method} {entry.request.path}): {error.issues[0].diagnostics}"
    issues = [outcome.Issue(i.severity, i.code, detail if n == 0 else i.diagnostics, i.expression)
              for n, i in enumerate(error.issues)]
    return outcome.FhirError(error.status, detail, issues=issues)


def _response_entry(response: FhirResponse | outcome.FhirError, request: FhirRequest) -> dict[str, Any]:
    if isinstance(response, outcome.FhirError):
        return {"response": {"status": _status(response.status), "outcome": response.outcome()}}
    result: dict[str, Any] = {"status": _status(response.status)}
    if response.location:
        result["location"] = response.location
    stored = response.stored
    if stored is not None:
        result["etag"] = stored.etag
        result["lastModified"] = stored.last_updated
    entry: dict[str, Any] = {}
    payload = response.payload(request.prefer_return)
    if payload is not None:
        parsed = orjson.loads(payload)
        if parsed.get("resourceType") == "OperationOutcome" and response.stored is not None:
            result["outcome"] = parsed
        else:
            entry["resource"] = parsed
    if stored is not None and not stored.deleted:
        entry["fullUrl"] = f"{request.base_url}/{stored.reference}"
    entry["response"] = result
    return entry


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"
