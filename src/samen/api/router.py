"""Maps a FhirRequest to the interaction it asks for, inside a store session (cf. Medplum's fhir-router).

Every request passes :meth:`Router.judge` (from :meth:`Router.handle`, or from the Bundle processing
for transaction entries): it is first *routed* (which interaction, on what), then *judged* by the
node's :class:`~samen.auth.enforcement.Enforcer` (authentication and policy), then *served* within
the limits of the resulting grant. Batch and transaction entries are judged one by one, each as the
request it stands for.

Every request leaves exactly one entry on the audit trail (:mod:`samen.audit`), whatever its outcome:
a write in its own transaction, anything else (reads, searches, operations, refusals, failures) before
its answer is returned. A Bundle is audited per entry: a batch entry is a request of its own, a
committed transaction appends one entry per Bundle entry; a Bundle that fails as a whole leaves one
entry (the refused or failing Bundle entry when one is to blame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from samen.api.interactions import Interactions
from samen.api.messages import FhirRequest, FhirResponse
from samen.audit.events import Access
from samen.audit.subjects import Subjects
from samen.audit.trail import AuditTrail, AuditUnavailable
from samen.auth.enforcement import Enforcer, Grant, Refusal
from samen.auth.policy import EXPORT, Policy, PolicyRequest
from samen.fhir import outcome
from samen.fhir.admission import Admission
from samen.fhir.model import Model
from samen.settings import Settings
from samen.store.search import CodeSets
from samen.store.store import Session, Store

READ_METHODS = frozenset({"GET", "HEAD"})
Operation = Callable[[Session, FhirRequest], FhirResponse]
_INCLUDES = ("_include", "_revinclude")


@dataclass(frozen=True)
class Route:
    """What a request asks for: the policy's view of it, and the instance it is about."""

    asked: PolicyRequest
    res_id: str | None = None
    version: str | None = None
    compartment: str | None = None  # the Patient id of ``Patient/[id]/[type]``


class TypeProvider(Protocol):
    """Serves one resource type from storage of its own (cf. HAPI FHIR's resource providers).

    The localization index keeps its List registrations, and the audit trail its AuditEvents, in
    tables made for them instead of the generic resource store. A provider is reached only through
    :meth:`Router.serve`, so every request for its type is routed, judged and audited like any other;
    it serves in the request's session (one transaction with the rest of a transaction Bundle).
    """

    interactions: frozenset[str]  # PolicyRequest.interaction values it answers; any other is a 405

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse: ...


class CreatesMany(TypeProvider, Protocol):
    """A TypeProvider that may also create many resources in one call (optional: see samen.api.bundles).

    A transaction Bundle hands it its consecutive ``POST [type]`` entries, each already judged, so that
    a store of its own can write them with one statement instead of one per entry. It answers every
    create in order, or raises :class:`~samen.fhir.outcome.FhirError`; the Bundle then serves those
    entries one by one through :meth:`Router.serve`, so the failing entry is reported and audited exactly
    as on its own (the transaction fails either way).
    """

    def create_many(self, session: Session, requests: Sequence[FhirRequest], grants: Sequence[Grant],
                    new_ids: Sequence[str]) -> list[FhirResponse]: ...


@runtime_checkable
class Refreshes(TypeProvider, Protocol):
    """A TypeProvider whose rows also arrive from outside the database (optional).

    The audit trail's entries of reads wait in spool files until they are chained; :meth:`refresh`
    brings them in before the request's transaction starts, so that its snapshot holds them.
    """

    def refresh(self) -> None: ...


class Router:
    def __init__(
        self,
        store: Store,
        model: Model,
        settings: Settings,
        admission: Admission | None = None,
        code_sets: CodeSets | None = None,
        enforcer: Enforcer | None = None,
        trail: AuditTrail | None = None,
    ) -> None:
        """``code_sets`` (the terminology service) lets searches use ``:in``, ``:below``, ...; None refuses them.

        ``enforcer`` judges every request; without one the router serves in-process tools of the
        operator (``samen import``), where a request without access context is the operator's.
        ``trail`` records every request (the audit trail); without it (in-process tools) nothing is recorded.
        """
        self.store = store
        self.model = model
        self.settings = settings
        self.admission = admission or Admission(model)
        self.interactions = Interactions(model, settings, self.admission, code_sets)
        self.enforcer = enforcer or Enforcer(Policy(model), model, settings.base_url,
                                             trust_in_process=True)
        self.trail = trail
        self.subjects = Subjects()
        self.operations: dict[tuple[str, str], Operation] = {}  # (method, path pattern) of $operations
        self.audit_kinds: dict[tuple[str, str], str] = {}  # operations that are an export or a disclosure
        self.providers: dict[str, TypeProvider] = {}  # resource types served from storage of their own
        self._refreshing: dict[str, Refreshes] = {}  # those of them that bring rows in before each request
        self._writing_operations: set[tuple[str, str]] = set()

    def register_operation(self, method: str, pattern: str, operation: Operation, *, writes: bool,
                           audit_kind: str = "") -> None:
        """Serve ``method [base]/pattern`` (``{id}`` for an instance id); ``writes`` asks for a write transaction;
        ``audit_kind``: what the trail calls it (``samen.audit.events.EXPORT``, ``DISCLOSURE``; "": an operation)."""
        self.operations[(method, pattern)] = operation
        if audit_kind:
            self.audit_kinds[(method, pattern)] = audit_kind
        if writes:
            self._writing_operations.add((method, pattern))

    def register_provider(self, res_type: str, provider: TypeProvider) -> None:
        """Serve ``res_type`` (every interaction on it) by ``provider`` instead of the resource store."""
        if res_type not in self.model.resource_types:
            raise ValueError(f"unknown resource type {res_type}")
        self.providers[res_type] = provider
        if isinstance(provider, Refreshes):  # checked once here: a Protocol isinstance costs ~40 µs
            self._refreshing[res_type] = provider

    def handle(self, request: FhirRequest) -> FhirResponse:
        """Answer one request in its own transaction (a batch: each entry in its own), with its audit entry."""
        access = access_of(request)
        try:
            route, grant = self.judge(request)
            access.interaction, access.res_type = route.asked.interaction, route.asked.res_type
            if route.asked.interaction in ("batch", "transaction"):
                from samen.api.bundles import process_bundle

                return process_bundle(self, request)  # audits its entries
            writes = self._writes(request)
            refreshing = self._refreshing.get(route.asked.res_type or "")
            if refreshing is not None:
                refreshing.refresh()
            with self.store.session(write=writes) as session:
                response = self.serve(session, request, route, grant)
                self.describe(session, access, route, grant, response)
                if writes and self.trail is not None:
                    self.trail.append(session, [access])  # committed with the write, or not at all
            if not writes and self.trail is not None:
                self.trail.record(access)  # durable before the answer goes out
            return response
        except AuditUnavailable:
            raise
        except Exception as error:
            if self.trail is not None:  # after the rollback: the entry says it failed
                self.trail.record(_failure(access, error))
            raise

    def record_token_refusal(self, status: int, reason: str, detail: str, method: str, path: str, query: str,
                             client: str) -> None:
        """Put a request whose access token was refused (before it could be routed) on the audit trail."""
        if self.trail is not None:
            self.trail.record(Access(method, path, query, client_address=client, status=status, rule="authentication",
                                     reason=reason, detail=detail))

    def describe(self, session: Session, access: Access, route: Route, grant: Grant, response: FhirResponse) -> None:
        """Complete ``access`` from a served request: outcome, rule, consent, what was touched and whose it is."""
        access.status, access.rule, access.context = response.status, grant.decision.rule, grant.context
        access.consent = _consent(grant)
        if route.asked.interaction == "operation":
            access.kind = self.audit_kinds.get(_operation_key(access.method, [s for s in access.path.split("/") if s]), "")
        stored = response.stored
        if stored is not None:
            access.resources = (f"{stored.reference}/_history/{stored.version}",)
            access.patient_bsn, access.patient_ref = self.subjects.of_resource(
                session, stored.res_type, stored.res_id, stored.content)
        elif route.compartment is not None:
            access.patient_ref = f"Patient/{route.compartment}"
            access.patient_bsn = self.subjects.bsn(session, route.compartment)
        elif route.res_id is not None and route.asked.res_type == "Patient":
            access.patient_ref = f"Patient/{route.res_id}"
            access.patient_bsn = self.subjects.bsn(session, route.res_id)
        if grant.context.patient_bsn:
            access.patient_bsn = grant.context.patient_bsn  # the token's patient is the one the access is for

    def judge(self, request: FhirRequest) -> tuple[Route, Grant]:
        """Route and judge a request without serving it (transaction entries are judged before any is run)."""
        route = self.route(request)
        with _audited(request, route):
            return route, self.enforcer.judge(request.access, route.asked)

    def _writes(self, request: FhirRequest) -> bool:
        """Whether answering ``request`` may write (a read session is cheaper and takes no write lock)."""
        segments = request.segments
        if segments and segments[-1].startswith("$"):
            return _operation_key(request.method, segments) in self._writing_operations
        if request.method == "POST" and segments[-1:] == ["_search"]:
            return False
        return request.method not in READ_METHODS

    # -- routing --------------------------------------------------------------------------------

    def route(self, request: FhirRequest) -> Route:
        """Which interaction ``request`` asks for, on what; 404/405 for what this node does not serve."""
        segments = request.segments
        method = "GET" if request.method == "HEAD" else request.method
        if segments and segments[-1].startswith("$"):
            return self._operation_route(request, segments)
        if not segments:
            if method == "GET":
                return Route(_search(request, None))
            if method == "POST":
                body = request.body if isinstance(request.body, dict) else {}
                return Route(PolicyRequest("transaction" if body.get("type") == "transaction" else "batch"))
            raise _not_allowed(method, "the base URL")
        if segments == ["_history"] and method == "GET":
            return Route(PolicyRequest("history"))
        res_type = segments[0]
        if res_type not in self.model.resource_types:
            raise outcome.not_found(f"Unknown resource type '{res_type}'")
        match segments[1:], method:
            case [], "GET":
                return Route(_search(request, res_type))
            case [], "POST":
                return Route(PolicyRequest("conditional-create" if request.if_none_exist else "create", res_type))
            case [], "PUT":
                return Route(PolicyRequest("conditional-update", res_type))
            case [], "PATCH":
                return Route(PolicyRequest("conditional-patch", res_type))
            case [], "DELETE":
                return Route(PolicyRequest("conditional-delete", res_type))
            case ["_search"], "POST":
                return Route(_search(request, res_type))
            case ["_history"], "GET":
                return Route(PolicyRequest("history", res_type))
            case [res_id], "GET" | "PUT" | "PATCH" | "DELETE":
                interaction = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
                return Route(PolicyRequest(interaction, res_type, instance=True), res_id)
            case [res_id, "_history"], "GET":
                return Route(PolicyRequest("history", res_type, instance=True), res_id)
            case [res_id, "_history", version], "GET":
                return Route(PolicyRequest("vread", res_type, instance=True), res_id, version)
            case [res_id, compartment_type], "GET" if res_type == "Patient":
                if compartment_type not in self.model.resource_types:
                    raise outcome.not_found(f"Unknown resource type '{compartment_type}'")
                return Route(_search(request, compartment_type), compartment=res_id)
        if len(segments) <= 4:
            raise _not_allowed(method, request.path)
        raise outcome.not_found(f"No such endpoint: {request.path}")

    def _operation_route(self, request: FhirRequest, segments: list[str]) -> Route:
        if _operation_key(request.method, segments) not in self.operations:
            raise outcome.FhirError(404, f"Unknown operation: {request.method} {request.path}", "not-supported")
        name = segments[-1]
        types: tuple[str, ...] = ()
        if name == EXPORT:
            types = tuple(t for name_, value in request.params if name_ == "_type" for t in value.split(",") if t)
            types = types or ("*",)  # every type
        res_type = segments[0] if len(segments) > 1 else None
        res_id = segments[1] if len(segments) == 3 else None
        return Route(PolicyRequest("operation", res_type, instance=res_id is not None, types=types, operation=name),
                     res_id)

    # -- serving --------------------------------------------------------------------------------

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None = None) -> FhirResponse:
        """Answer a routed and judged request within ``grant``; ``new_id``: the id a create must use."""
        with _audited(request, route):
            return self._serve(session, request, route, grant, new_id)

    def _serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
               new_id: str | None) -> FhirResponse:
        asked = route.asked
        if asked.interaction == "operation":
            return self.operations[_operation_key(request.method, request.segments)](session, request)
        provider = self.providers.get(asked.res_type or "")
        if provider is not None:
            if asked.interaction not in provider.interactions:
                raise _not_allowed(request.method, f"{asked.res_type} ({asked.interaction} is not supported)")
            return provider.serve(session, request, route, grant, new_id)
        return self.serve_stored(session, request, route, grant, new_id)

    def serve_stored(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
                     new_id: str | None) -> FhirResponse:
        """Serve an interaction from the resource store within ``grant``: what a type without a provider gets,
        and what a provider whose type lives in the store calls after its own checks."""
        actions = self.interactions
        asked, res_id = route.asked, route.res_id
        res_type = asked.res_type
        match asked.interaction:
            case "search":
                compartment = grant.compartment(session, route.compartment)
                grant.check_search(session, res_type, request.params)
                return actions.search(session, request, res_type, compartment, grant.included_filter(session))
            case "history":
                if res_id is not None:
                    assert res_type is not None
                    grant.check_instance(session, res_type, res_id)
                    return actions.history(session, request, res_type, res_id)
                return actions.history(session, request, res_type, None, grant.compartment(session, None))
        assert res_type is not None
        match asked.interaction:
            case "read" | "vread":
                assert res_id is not None
                grant.check_instance(session, res_type, res_id)
                if route.version is not None:
                    return actions.vread(session, request, res_type, res_id, route.version)
                return actions.read(session, request, res_type, res_id)
            case "create" | "conditional-create":
                grant.check_write(session, request.body, res_type, None)
                return actions.create(session, request, res_type, new_id)
            case "update" | "patch" | "delete":
                assert res_id is not None
                grant.check_write(session, request.body if asked.interaction == "update" else None, res_type, res_id)
                serve = {"update": actions.update, "patch": actions.patch, "delete": actions.delete}[asked.interaction]
                return serve(session, request, res_type, res_id)
            case "conditional-update":
                return actions.conditional_update(session, request, res_type)
            case "conditional-patch":
                return actions.conditional_patch(session, request, res_type)
            case "conditional-delete":
                return actions.conditional_delete(session, request, res_type)
        raise outcome.bad_request(f"{asked.interaction} cannot be answered here")



@contextmanager
def _audited(request: FhirRequest, route: Route) -> Iterator[None]:
    """Give a refusal raised in the block the audit record of the request it refuses (the innermost one)."""
    try:
        yield
    except Refusal as refusal:
        if refusal.audit is None:
            refusal.audit = _failure(access_of(request, route), refusal)
        raise


def access_of(request: FhirRequest, route: Route | None = None) -> Access:
    """The audit record of ``request`` as far as the request (and its route) tell it."""
    query = "&".join(f"{name}={value}" for name, value in request.params)
    access = Access(request.method, request.path, query, context=request.access, client_address=request.client)
    if route is not None:
        access.interaction, access.res_type = route.asked.interaction, route.asked.res_type
    return access


def _failure(access: Access, error: Exception) -> Access:
    """The record of a request that was refused or failed; a refusal's own record when it has one."""
    if isinstance(error, Refusal):
        if error.audit is not None:
            return error.audit
        access.rule, access.detail = error.rule, error.detail
        access.context = error.context or access.context
    if access.context is not None:
        access.patient_bsn = access.context.patient_bsn
    access.status = error.status if isinstance(error, outcome.FhirError) else 500
    access.reason = error.issues[0].diagnostics if isinstance(error, outcome.FhirError) else "internal error"
    access.detail = access.detail or access.reason
    return access


def _consent(grant: Grant) -> dict[str, str] | None:
    """The consent answer the grant carries (issue 7, H6), as name -> text for the AuditEvent."""
    if grant.consent is None:
        return None
    return {name: str(value) for name, value in asdict(grant.consent).items() if value not in (None, "")}


def _search(request: FhirRequest, res_type: str | None) -> PolicyRequest:
    """The policy's view of a search: parameter names, includes, and ``_type`` at system level."""
    names = tuple(sorted({name for name, _ in request.params if name not in (*_INCLUDES, "_type")}))
    includes = tuple(sorted({f"{name}={value}" for name, value in request.params if name in _INCLUDES}))
    types: tuple[str, ...] = ()
    if res_type is None:
        types = tuple(sorted({t for name, value in request.params if name == "_type" for t in value.split(",") if t}))
    return PolicyRequest("search", res_type, params=names, includes=includes, types=types)


def _operation_key(method: str, segments: list[str]) -> tuple[str, str]:
    """``("GET", "Group/{id}/$export")`` for ``GET Group/7/$export``."""
    method = "GET" if method == "HEAD" else method
    return method, "/".join("{id}" if i == 1 and len(segments) == 3 else s for i, s in enumerate(segments))


def _not_allowed(method: str, where: str) -> outcome.FhirError:
    return outcome.FhirError(405, f"{method} is not allowed on {where}", "not-supported")
