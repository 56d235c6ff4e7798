"""Maps a FhirRequest to the interaction it asks for, inside a store session (cf. Medplum's fhir-router)."""

from __future__ import annotations

from collections.abc import Callable

from samen.api.interactions import Interactions
from samen.api.messages import FhirRequest, FhirResponse
from samen.fhir import outcome
from samen.fhir.admission import Admission
from samen.fhir.model import Model
from samen.settings import Settings
from samen.store.search import CodeSets
from samen.store.store import Session, Store

READ_METHODS = frozenset({"GET", "HEAD"})
Operation = Callable[[Session, FhirRequest], FhirResponse]


class Router:
    def __init__(
        self,
        store: Store,
        model: Model,
        settings: Settings,
        admission: Admission | None = None,
        code_sets: CodeSets | None = None,
    ) -> None:
        """``code_sets`` (the terminology service) lets searches use ``:in``, ``:below``, ...; None refuses them."""
        self.store = store
        self.model = model
        self.settings = settings
        self.admission = admission or Admission(model)
        self.interactions = Interactions(model, settings, self.admission, code_sets)
        self.operations: dict[tuple[str, str], Operation] = {}  # (method, path pattern) of $operations
        self._writing_operations: set[tuple[str, str]] = set()

    def register_operation(self, method: str, pattern: str, operation: Operation, *, writes: bool) -> None:
        """Serve ``method [base]/pattern`` (``{id}`` for an instance id); ``writes`` asks for a write transaction."""
        self.operations[(method, pattern)] = operation
        if writes:
            self._writing_operations.add((method, pattern))

    def handle(self, request: FhirRequest) -> FhirResponse:
        """Answer one request in its own transaction."""
        if self._is_bundle(request):
            from samen.api.bundles import process_bundle

            return process_bundle(self, request)
        with self.store.session(write=self._writes(request)) as session:
            return self.dispatch(session, request)

    def _writes(self, request: FhirRequest) -> bool:
        """Whether answering ``request`` may write (a read session is cheaper and takes no write lock)."""
        segments = request.segments
        if segments and segments[-1].startswith("$"):
            return _operation_key(request.method, segments) in self._writing_operations
        if request.method == "POST" and segments[-1:] == ["_search"]:
            return False
        return request.method not in READ_METHODS

    def dispatch(self, session: Session, request: FhirRequest) -> FhirResponse:
        """Answer one request inside ``session`` (a transaction bundle shares one)."""
        segments = request.segments
        method = "GET" if request.method == "HEAD" else request.method
        actions = self.interactions
        if segments and segments[-1].startswith("$"):
            return self._operation(session, request, method, segments)
        if not segments:
            if method == "GET":
                return actions.search(session, request, None)
            raise _not_allowed(method, "the base URL")
        if segments == ["_history"] and method == "GET":
            return actions.history(session, request, None, None)
        res_type = segments[0]
        if res_type not in self.model.resource_types:
            raise outcome.not_found(f"Unknown resource type '{res_type}'")
        match segments[1:], method:
            case [], "GET":
                return actions.search(session, request, res_type)
            case [], "POST":
                return actions.create(session, request, res_type)
            case [], "PUT":
                return actions.conditional_update(session, request, res_type)
            case [], "PATCH":
                return actions.conditional_patch(session, request, res_type)
            case [], "DELETE":
                return actions.conditional_delete(session, request, res_type)
            case ["_search"], "POST":
                return actions.search(session, request, res_type)
            case ["_history"], "GET":
                return actions.history(session, request, res_type, None)
            case [res_id], "GET":
                return actions.read(session, request, res_type, res_id)
            case [res_id], "PUT":
                return actions.update(session, request, res_type, res_id)
            case [res_id], "PATCH":
                return actions.patch(session, request, res_type, res_id)
            case [res_id], "DELETE":
                return actions.delete(session, request, res_type, res_id)
            case [res_id, "_history"], "GET":
                return actions.history(session, request, res_type, res_id)
            case [res_id, "_history", version], "GET":
                return actions.vread(session, request, res_type, res_id, version)
            case [res_id, compartment_type], "GET" if res_type == "Patient":
                if compartment_type not in self.model.resource_types:
                    raise outcome.not_found(f"Unknown resource type '{compartment_type}'")
                return actions.search(session, request, compartment_type, compartment=("Patient", res_id))
        if len(segments) <= 4:
            raise _not_allowed(method, request.path)
        raise outcome.not_found(f"No such endpoint: {request.path}")

    def _operation(self, session: Session, request: FhirRequest, method: str, segments: list[str]) -> FhirResponse:
        operation = self.operations.get(_operation_key(method, segments))
        if operation is None:
            raise outcome.FhirError(404, f"Unknown operation: {method} {request.path}", "not-supported")
        return operation(session, request)

    @staticmethod
    def _is_bundle(request: FhirRequest) -> bool:
        return request.method == "POST" and not request.segments


def _operation_key(method: str, segments: list[str]) -> tuple[str, str]:
    """``("GET", "Group/{id}/$export")`` for ``GET Group/7/$export``."""
    method = "GET" if method == "HEAD" else method
    return method, "/".join("{id}" if i == 1 and len(segments) == 3 else s for i, s in enumerate(segments))


def _not_allowed(method: str, where: str) -> outcome.FhirError:
    return outcome.FhirError(405, f"{method} is not allowed on {where}", "not-supported")
