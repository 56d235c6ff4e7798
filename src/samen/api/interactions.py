"""The FHIR RESTful interactions on one resource type, inside one store session.

Free of HTTP: every method takes a :class:`FhirRequest` and answers a :class:`FhirResponse`,
so the same code serves plain requests and the entries of batch and transaction bundles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jsonpatch
import orjson

from samen.api import bundle_writer
from samen.api.messages import FhirRequest, FhirResponse
from samen.fhir import outcome
from samen.fhir.admission import Admission
from samen.fhir.model import Model
from samen.fhir.primitives import date_range
from samen.fhir.projection import SUMMARY_MODES, project
from samen.settings import Settings
from samen.store.resources import StoredResource
from samen.store.search import CodeSets, Row, SearchError, SearchQuery, parse_search
from samen.store.store import HistoryPage, Session

_ETAG = re.compile(r'^(?:W/)?"?(\d+)"?$')


class Interactions:
    def __init__(
        self, model: Model, settings: Settings, admission: Admission, code_sets: CodeSets | None = None
    ) -> None:
        """``code_sets`` (the terminology service) serves the token modifiers ``:in``, ``:below``, ...;
        without it a search refuses them."""
        self.model = model
        self.settings = settings
        self.admission = admission
        self.code_sets = code_sets

    # -- instance level ---------------------------------------------------------------------

    def read(self, session: Session, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
        stored = session.read(res_type, res_id)
        if stored is None:
            raise outcome.not_found(f"{res_type}/{res_id} is not known")
        if stored.deleted:
            raise outcome.gone(f"{res_type}/{res_id} was deleted")
        if request.if_none_match and parse_etag(request.if_none_match) == stored.version:
            return FhirResponse(304, stored=stored)
        return FhirResponse(200, stored=stored, body=self._projected(request, stored))

    def vread(self, session: Session, request: FhirRequest, res_type: str, res_id: str, version: str) -> FhirResponse:
        if not version.isdigit():
            raise outcome.not_found(f"{res_type}/{res_id} has no version '{version}'")
        stored = session.vread(res_type, res_id, int(version))
        if stored is None:
            raise outcome.not_found(f"{res_type}/{res_id} has no version {version}")
        if stored.deleted:
            raise outcome.gone(f"{res_type}/{res_id} version {version} is a deletion")
        return FhirResponse(200, stored=stored, body=self._projected(request, stored))

    def create(
        self, session: Session, request: FhirRequest, res_type: str, res_id: str | None = None
    ) -> FhirResponse:
        """Create; with If-None-Exist only when nothing matches (200 with the match if one does)."""
        resource = self._resource_body(request, res_type)
        if request.if_none_exist:
            existing = self.find_matches(session, request, res_type, criteria_params(request.if_none_exist), lock=True)
            if len(existing) > 1:
                raise outcome.precondition_failed(f"If-None-Exist matches {len(existing)} {res_type} resources")
            if existing:
                stored = session.read(res_type, existing[0])
                assert stored is not None
                return FhirResponse(200, stored=stored, location=self._location(stored))
        stored = session.create(resource, res_id)
        return FhirResponse(201, stored=stored, location=self._location(stored))

    def update(self, session: Session, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
        resource = self._resource_body(request, res_type)
        body_id = resource.get("id")
        if body_id is None:
            raise outcome.bad_request("The resource in an update must have an id")
        if body_id != res_id:
            raise outcome.bad_request(f"The resource id '{body_id}' differs from the URL id '{res_id}'")
        stored, created = session.update(resource, res_id, if_match=self._if_match(request))
        return FhirResponse(201 if created else 200, stored=stored, location=self._location(stored))

    def patch(self, session: Session, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
        if not isinstance(request.body, list):
            raise outcome.bad_request("A JSON Patch body must be an array of operations")
        current = session.read(res_type, res_id, for_update=True)
        if current is None:
            raise outcome.not_found(f"{res_type}/{res_id} is not known")
        if current.deleted:
            raise outcome.gone(f"{res_type}/{res_id} was deleted")
        expected = self._if_match(request)
        if expected is not None and expected != current.version:
            raise outcome.precondition_failed(f"{res_type}/{res_id} is at version {current.version}, not {expected}")
        try:
            patched = jsonpatch.JsonPatch(request.body).apply(current.json())
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
            raise outcome.unprocessable(f"The JSON Patch cannot be applied: {error}") from error
        self.admission.check(patched, res_type)
        if patched.get("id") != res_id:
            raise outcome.unprocessable("A patch may not change the resource id")
        stored, _ = session.update(patched, res_id, method="PATCH")  # the row stays locked since the read
        return FhirResponse(200, stored=stored)

    def delete(self, session: Session, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
        stored = session.delete(res_type, res_id, if_match=self._if_match(request))
        return FhirResponse(204, stored=stored, outcome=outcome.information(f"Deleted {res_type}/{res_id}"))

    # -- conditional forms ------------------------------------------------------------------

    def conditional_update(self, session: Session, request: FhirRequest, res_type: str) -> FhirResponse:
        matches = self.find_matches(session, request, res_type, self._criteria(request), lock=True)
        if len(matches) > 1:
            raise outcome.precondition_failed(f"The conditional update matches {len(matches)} {res_type} resources")
        resource = self._resource_body(request, res_type)
        body_id = resource.get("id")
        if matches:
            if body_id is not None and body_id != matches[0]:
                raise outcome.bad_request(f"The resource id '{body_id}' differs from the matching '{matches[0]}'")
            stored, created = session.update(resource, matches[0], if_match=self._if_match(request))
            return FhirResponse(201 if created else 200, stored=stored, location=self._location(stored))
        stored = session.create(resource, body_id)
        return FhirResponse(201, stored=stored, location=self._location(stored))

    def conditional_patch(self, session: Session, request: FhirRequest, res_type: str) -> FhirResponse:
        matches = self.find_matches(session, request, res_type, self._criteria(request))
        if not matches:
            raise outcome.not_found(f"The conditional patch matches no {res_type}")
        if len(matches) > 1:
            raise outcome.precondition_failed(f"The conditional patch matches {len(matches)} {res_type} resources")
        return self.patch(session, request, res_type, matches[0])

    def conditional_delete(self, session: Session, request: FhirRequest, res_type: str) -> FhirResponse:
        matches = self.find_matches(session, request, res_type, self._criteria(request), lock=True)
        if len(matches) > 1:
            raise outcome.precondition_failed(f"The conditional delete matches {len(matches)} {res_type} resources")
        if not matches:
            return FhirResponse(204, outcome=outcome.information(f"No {res_type} matches the criteria"))
        return self.delete(session, request, res_type, matches[0])

    # -- type and system level --------------------------------------------------------------

    def search(
        self,
        session: Session,
        request: FhirRequest,
        res_type: str | None,
        compartment: tuple[str, str] | None = None,
        admit_included: Callable[[list[Row]], list[Row]] | None = None,
    ) -> FhirResponse:
        """``compartment``: only what is in that Patient's compartment; ``admit_included`` keeps the
        ``_include``/``_revinclude`` results the caller may see (patient binding, permitted types)."""
        query = self._parse_search(request, res_type, request.params, compartment)
        result = session.search(query)
        included = admit_included(result.included) if admit_included and result.included else result.included
        path = request.path.removesuffix("/_search")
        links = [("self", bundle_writer.page_link(request.base_url, path, query.link_params(result.offset)))]
        if result.has_more:
            next_offset = result.offset + result.count
            links.append(("next", bundle_writer.page_link(request.base_url, path, query.link_params(next_offset))))
        if result.offset > 0:
            previous_offset = max(0, result.offset - result.count)
            links.append(
                ("previous", bundle_writer.page_link(request.base_url, path, query.link_params(previous_offset)))
            )
        warnings = None
        if result.warnings:
            warnings = outcome.operation_outcome([outcome.Issue("warning", "not-supported", w) for w in result.warnings])
        projector = self._projector(query.summary, query.elements)
        body = bundle_writer.searchset(
            request.base_url,
            ((row.res_type, row.res_id, row.content) for row in result.matches),
            ((row.res_type, row.res_id, row.content) for row in included),
            total=result.total,
            links=links,
            warnings=warnings,
            project=projector,
        )
        return FhirResponse(200, body=body)

    def history(
        self,
        session: Session,
        request: FhirRequest,
        res_type: str | None,
        res_id: str | None,
        compartment: tuple[str, str] | None = None,
    ) -> FhirResponse:
        """Instance, type or system history; ``compartment``: of the resources in that Patient's compartment."""
        params = dict(request.params)
        since_ms = _date_param(params, "_since", upper=False)
        at_range = None
        if "_at" in params:
            try:
                at_range = date_range(params["_at"])
            except ValueError as error:
                raise outcome.bad_request(f"_at: {error}") from error
        count = _int_param(params, "_count", self.settings.history_page_size, self.settings.max_page_size)
        offset = _int_param(params, "_offset", 0, 10**9)
        if res_id is not None and session.read(res_type or "", res_id) is None:
            raise outcome.not_found(f"{res_type}/{res_id} is not known")
        if compartment is None:
            page = session.history(res_type, res_id, since_ms=since_ms, at_range=at_range, count=count, offset=offset)
        else:
            every = [
                version
                for member_type, member_id in self._compartment_members(session, request, res_type, compartment)
                for version in session.history(member_type, member_id, since_ms=since_ms, at_range=at_range,
                                               count=10**9).entries
            ]
            every.sort(key=lambda version: version.updated_ms, reverse=True)
            page = HistoryPage(every[offset : offset + count], len(every))
        kept = [(name, value) for name, value in request.params if name != "_offset"]
        links = [("self", bundle_writer.page_link(request.base_url, request.path, [*kept, ("_offset", str(offset))]))]
        if offset + count < page.total:
            next_params = [*kept, ("_offset", str(offset + count))]
            links.append(("next", bundle_writer.page_link(request.base_url, request.path, next_params)))
        if offset > 0:
            previous_params = [*kept, ("_offset", str(max(0, offset - count)))]
            links.append(("previous", bundle_writer.page_link(request.base_url, request.path, previous_params)))
        body = bundle_writer.history(request.base_url, page.entries, total=page.total, links=links)
        return FhirResponse(200, body=body)

    def _compartment_members(
        self, session: Session, request: FhirRequest, res_type: str | None, compartment: tuple[str, str]
    ) -> list[tuple[str, str]]:
        """Every resource (of ``res_type``, or of any type) in the compartment now, page by page.

        A compartment holds hundreds of resources, so their histories are read one by one; deleted
        resources have left the compartment's index and are not listed.
        """
        members: list[tuple[str, str]] = []
        page_size = self.settings.max_page_size
        offset = 0
        while True:
            params = [("_count", str(page_size)), ("_offset", str(offset)), ("_total", "none")]
            result = session.search(self._parse_search(request, res_type, params, compartment))
            members += [(row.res_type, row.res_id) for row in result.matches]
            if not result.has_more:
                return members
            offset += page_size

    # -- helpers ----------------------------------------------------------------------------

    def _resource_body(self, request: FhirRequest, res_type: str) -> dict[str, Any]:
        if request.body is None:
            raise outcome.bad_request("The request has no resource in its body")
        self.admission.check(request.body, res_type)
        return request.body

    def _parse_search(
        self,
        request: FhirRequest,
        res_type: str | None,
        params: list[tuple[str, str]],
        compartment: tuple[str, str] | None = None,
    ) -> SearchQuery:
        try:
            return parse_search(
                self.model,
                res_type,
                params,
                strict=request.strict,
                base_url=request.base_url,
                compartment=compartment,
                code_sets=self.code_sets,
            )
        except SearchError as error:
            raise outcome.FhirError(error.status, error.message, error.code) from error

    def _criteria(self, request: FhirRequest) -> list[tuple[str, str]]:
        if not request.params:
            raise outcome.FhirError(412, "A conditional interaction needs search criteria", "invalid")
        return request.params

    def find_matches(
        self,
        session: Session,
        request: FhirRequest,
        res_type: str,
        criteria: list[tuple[str, str]],
        *,
        lock: bool = False,
    ) -> list[str]:
        """The ids of ``res_type`` resources matching ``criteria``; at most two are looked up.

        ``lock`` first serialises with every other transaction on the same criteria (however they
        were written), so that two conditional creates cannot both find nothing and both create.
        """
        if lock:
            session.lock(f"conditional:{res_type}?{urlencode(sorted(criteria))}")
        params = [*criteria, ("_count", "2"), ("_total", "none")]
        strict = FhirRequest(request.method, res_type, strict=True, base_url=request.base_url)
        query = self._parse_search(strict, res_type, params)
        return [row.res_id for row in session.search(query).matches]

    def match_reference(self, session: Session, request: FhirRequest, conditional: str) -> list[str]:
        """Resolve ``Patient?identifier=...`` to the ids it matches."""
        res_type, _, criteria = conditional.partition("?")
        if res_type not in self.model.resource_types:
            raise outcome.bad_request(f"Unknown resource type in conditional reference '{conditional}'")
        return self.find_matches(session, request, res_type, criteria_params(criteria))

    def _if_match(self, request: FhirRequest) -> int | None:
        if request.if_match is None:
            return None
        version = parse_etag(request.if_match)
        if version is None:
            raise outcome.bad_request(f"Malformed If-Match '{request.if_match}'")
        return version

    def _location(self, stored: StoredResource) -> str:
        return f"{stored.reference}/_history/{stored.version}"

    def _projected(self, request: FhirRequest, stored: StoredResource) -> bytes | None:
        params = dict(request.params)
        summary, elements = params.get("_summary"), params.get("_elements")
        projector = self._projector(summary, elements.split(",") if elements else None)
        return projector(stored.content) if projector and stored.content is not None else None

    def _projector(self, summary: str | None, elements: list[str] | None) -> Callable[[bytes], bytes] | None:
        if summary is not None and summary not in SUMMARY_MODES:
            raise outcome.bad_request(f"_summary must be one of {', '.join(SUMMARY_MODES)}")
        if not elements and summary in (None, "false", "count"):
            return None

        def projector(content: bytes) -> bytes:
            return orjson.dumps(project(self.model, orjson.loads(content), summary, elements))

        return projector


def criteria_params(criteria: str) -> list[tuple[str, str]]:
    """``identifier=a%7Cb&x=y`` or ``Patient?identifier=...`` as decoded (name, value) pairs."""
    return parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)


def parse_etag(value: str) -> int | None:
    match = _ETAG.match(value.strip())
    return int(match.group(1)) if match else None


def _int_param(params: dict[str, str], name: str, default: int, maximum: int) -> int:
    if name not in params:
        return default
    value = params[name]
    if not value.isdigit():
        raise outcome.bad_request(f"{name} must be a non-negative whole number, not '{value}'")
    return min(int(value), maximum)


def _date_param(params: dict[str, str], name: str, *, upper: bool) -> int | None:
    if name not in params:
        return None
    try:
        lo, hi = date_range(params[name])
    except ValueError as error:
        raise outcome.bad_request(f"{name}: {error}") from error
    return hi if upper else lo
