"""The HTTP layer: Starlette routes that turn HTTP into FhirRequests and FhirResponses into HTTP.

No business rules live here: only content negotiation, body limits, headers and error rendering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import orjson
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from samen import logs
from samen.api.auth_http import auth_routes
from samen.api.capability import capability_statement
from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Router
from samen.auth.context import AccessContext
from samen.auth.node_auth import NodeAuth
from samen.auth.tokens import AuthError
from samen.fhir.model import Model
from samen.fhir.outcome import FhirError, Issue, operation_outcome
from samen.fhir.xml import XmlFormatError, parse_resource, serialize_resource

FHIR_JSON = "application/fhir+json; charset=utf-8"
FHIR_XML = "application/fhir+xml; charset=utf-8"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json", "text/json")
_XML_TYPES = ("application/fhir+xml", "application/xml", "text/xml")
_XML_FORMATS = ("xml", *_XML_TYPES)
_JSON_FORMATS = ("json", "application/json", "application/fhir+json", "text/json")
_ANY = ("*/*", "application/*", "text/*")
_NOT_ROUTED = ("_format", "_pretty")
_UTF8_BOM = b"\xef\xbb\xbf"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

log = structlog.get_logger("samen.http")


def create_app(
    router: Router, on_shutdown: Callable[[], None] | None = None, auth: NodeAuth | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ASGI app of one node; ``on_shutdown`` runs when the server stops (closing the database);
    ``auth`` serves the token endpoint and discovery and turns bearer tokens into ``FhirRequest.access``;
    ``routes`` are the web pages and endpoints of the node's roles, matched before the FHIR API."""
    settings = router.settings
    base_path = urlsplit(settings.base_url).path.rstrip("/")
    capability_cache: dict[bool, bytes] = {}  # by "XML?"; both written from one statement

    async def metadata(request: Request) -> Response:
        try:
            xml = _negotiate(request, parse_qsl(request.url.query, keep_blank_values=True))
        except FhirError as error:
            return _error_response(error, False, router.model)
        if not capability_cache:
            operation_names = {pattern.rsplit("$", 1)[-1] for _, pattern in router.operations}
            statement = capability_statement(router.model, settings, operation_names)
            capability_cache[True] = serialize_resource(statement, router.model)
            capability_cache[False] = orjson.dumps(statement)
        return Response(capability_cache[xml], 200, media_type=FHIR_XML if xml else FHIR_JSON)

    async def fhir(request: Request) -> Response:
        started = time.perf_counter()
        response = await _answer(request, router, base_path, auth)
        if settings.access_log:
            logs.access(request.method, request.url.path, response.status_code,
                        round((time.perf_counter() - started) * 1000, 2))
        return response

    routes = [
        *(auth_routes(auth, base_path, router.record_token_refusal) if auth is not None else []),
        *routes,
        Route(f"{base_path}/metadata", metadata, methods=["GET"]),
        Route(f"{base_path}/{{path:path}}", fhir, methods=METHODS),
        Route(f"{base_path}", fhir, methods=METHODS),
    ]
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    return Starlette(routes=routes, lifespan=lifespan)


async def _answer(request: Request, router: Router, base_path: str, auth: NodeAuth | None) -> Response:
    xml = False  # whether the client gets FHIR XML (errors in negotiation itself are answered in JSON)
    try:
        params = parse_qsl(request.url.query, keep_blank_values=True)
        xml = _negotiate(request, params)
        access = auth.authenticate(request.headers.get("authorization")) if auth is not None else None
        fhir_request, xml_body = await _fhir_request(request, router, base_path, params, access)
        response, payload = await anyio.to_thread.run_sync(_handle, router, fhir_request, xml_body, xml)
        return _render(response, payload, fhir_request, xml)
    except AuthError as refused:
        await anyio.to_thread.run_sync(
            router.record_token_refusal, refused.status, refused.reason, refused.detail,
            request.method, request.url.path[len(base_path) :].strip("/"), request.url.query, _client(request),
        )
        code = "login" if refused.status == 401 else "forbidden"
        response = _error_response(FhirError(refused.status, refused.reason, code), xml, router.model)
        response.headers["WWW-Authenticate"] = refused.challenge
        return response
    except FhirError as error:
        if error.status >= 500:
            log.error("request failed", method=request.method, path=request.url.path, error=error.message)
        response = _error_response(error, xml, router.model)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"  # RFC 6750 3: a token is needed
        return response
    except Exception:
        log.exception("request failed", method=request.method, path=request.url.path)
        error = FhirError(500, "Internal error; the node log has the details", "exception")
        return _error_response(error, xml, router.model)


def _handle(
    router: Router, fhir_request: FhirRequest, xml_body: bytes | None, xml: bool
) -> tuple[FhirResponse, bytes | None]:
    """In a worker thread: read an XML body, answer the request, write the answer as XML when asked."""
    if xml_body is not None:
        try:
            fhir_request.body = parse_resource(xml_body, router.model)
        except XmlFormatError as error:
            raise FhirError(400, f"The body is not valid FHIR XML: {error}", "structure") from error
    response = router.handle(fhir_request)
    payload = None if response.status in (204, 304) else response.payload(fhir_request.prefer_return)
    if xml and payload is not None and "Content-Type" not in response.headers:
        payload = _as_xml(payload, response, fhir_request, router.model)
    return response, payload


def _as_xml(payload: bytes, response: FhirResponse, request: FhirRequest, model: Model) -> bytes:
    try:
        return serialize_resource(orjson.loads(payload), model)
    except XmlFormatError as error:
        problem = f"The answer cannot be written as FHIR XML ({error}); ask for JSON"
    if request.method in ("GET", "HEAD") or response.status >= 300:
        raise FhirError(406, problem, "not-supported")
    # the write itself succeeded: say so, and why its result is not shown
    return serialize_resource(operation_outcome([Issue("warning", "not-supported", problem)]), model)


async def _fhir_request(
    request: Request, router: Router, base_path: str, params: list[tuple[str, str]], access: AccessContext | None
) -> tuple[FhirRequest, bytes | None]:
    """The FhirRequest, and the raw body when it is XML (read later, off the event loop)."""
    settings = router.settings
    body: Any = None
    xml_body: bytes | None = None
    if request.method in ("POST", "PUT", "PATCH"):
        raw = await _read_body(request, settings.max_body_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and request.url.path.endswith("/_search"):
            params += parse_qsl(raw.decode(), keep_blank_values=True)
        elif raw and content_type in _XML_TYPES:
            xml_body = raw
        elif raw:
            if content_type not in _JSON_TYPES:
                raise FhirError(
                    415, f"Unsupported content type '{content_type}'; send application/fhir+json or application/fhir+xml"
                )
            try:
                body = orjson.loads(raw.removeprefix(_UTF8_BOM))  # RFC 8259 lets a parser ignore one
            except orjson.JSONDecodeError as error:
                raise FhirError(400, f"The body is not valid JSON: {error}", "structure") from error
    prefer = _prefer(request.headers.get("prefer", ""))
    path = request.url.path[len(base_path) :].strip("/")
    fhir_request = FhirRequest(
        method=request.method,
        path=path,
        params=[(name, value) for name, value in params if name not in _NOT_ROUTED],
        body=body,
        if_match=request.headers.get("if-match"),
        if_none_exist=request.headers.get("if-none-exist"),
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        strict=prefer.get("handling") == "strict",
        prefer_return=prefer.get("return", "representation"),
        prefer_async="respond-async" in prefer,
        base_url=settings.base_url,
        access=access,
        client=_client(request),
    )
    return fhir_request, xml_body


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _negotiate(request: Request, params: list[tuple[str, str]]) -> bool:
    """True for FHIR XML, False for JSON: ``_format`` first, then the best ``Accept`` type (JSON on a tie)."""
    requested = dict(params).get("_format")
    if requested is not None:
        # an unescaped "+" in the query string arrives as a space: application/fhir xml
        wanted = requested.split(";")[0].strip().lower().replace(" ", "+")
        if wanted in _XML_FORMATS:
            return True
        if wanted in _JSON_FORMATS:
            return False
        raise FhirError(406, f"Unknown _format '{requested}'; use json or xml", "not-supported")
    accept = request.headers.get("accept", "")
    if "xml" not in accept:
        return False
    best_json = best_xml = 0.0
    for item in accept.split(","):
        media_type, *parameters = item.split(";")
        media_type = media_type.strip().lower()
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type in _XML_TYPES:
            best_xml = max(best_xml, quality)
        elif media_type in _JSON_FORMATS or media_type in _ANY:
            best_json = max(best_json, quality)
    return best_xml > best_json


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirError(413, f"The body is larger than this node accepts ({limit} bytes)", "too-costly")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FhirError(413, f"The body is larger than this node accepts ({limit} bytes)", "too-costly")
        chunks.append(chunk)
    return b"".join(chunks)


def _prefer(header: str) -> dict[str, str]:
    prefer = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            prefer[name.strip().lower()] = value.strip().strip('"')
    return prefer


def _render(response: FhirResponse, payload: bytes | None, request: FhirRequest, xml: bool) -> Response:
    headers = dict(response.headers)
    stored = response.stored
    if stored is not None and not stored.deleted:
        headers["ETag"] = stored.etag
        headers["Last-Modified"] = formatdate(stored.updated_ms / 1000, usegmt=True)
    if response.location:
        headers["Location"] = f"{request.base_url}/{response.location}"
    if payload is None:
        return Response(None, response.status, headers=headers)
    media_type = headers.pop("Content-Type", FHIR_XML if xml else FHIR_JSON)
    return Response(payload, response.status, headers=headers, media_type=media_type)


def _error_response(error: FhirError, xml: bool, model: Model) -> Response:
    if xml:
        try:
            return Response(serialize_resource(error.outcome(), model), error.status, media_type=FHIR_XML)
        except XmlFormatError:  # diagnostics quoting what XML cannot carry (a control character): JSON can
            pass
    return Response(orjson.dumps(error.outcome()), error.status, media_type=FHIR_JSON)
