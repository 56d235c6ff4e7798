"""The HTTP layer: Starlette routes that turn HTTP into FhirRequests and FhirResponses into HTTP.

No business rules live here: only content negotiation, body limits, headers and error rendering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
from starlette.routing import Route

from samen import logs
from samen.api.capability import capability_statement
from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Router
from samen.fhir.outcome import FhirError

FHIR_JSON = "application/fhir+json; charset=utf-8"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json", "text/json")
_XML_FORMATS = ("xml", "text/xml", "application/xml", "application/fhir+xml")
_JSON_FORMATS = ("json", "application/json", "application/fhir+json", "text/json")
_NOT_ROUTED = ("_format", "_pretty")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

log = structlog.get_logger("samen.http")


def create_app(router: Router, on_shutdown: Callable[[], None] | None = None) -> Starlette:
    """The ASGI app of one node; ``on_shutdown`` runs when the server stops (closing the database)."""
    settings = router.settings
    base_path = urlsplit(settings.base_url).path.rstrip("/")
    capability_cache: dict[str, bytes] = {}

    async def metadata(request: Request) -> Response:
        if "body" not in capability_cache:
            operations = [{"name": name, "definition": url} for name, url in sorted(_operation_names(router))]
            capability_cache["body"] = orjson.dumps(capability_statement(router.model, settings, operations))
        return Response(capability_cache["body"], 200, media_type=FHIR_JSON)

    async def fhir(request: Request) -> Response:
        started = time.perf_counter()
        response = await _answer(request, router, base_path)
        if settings.access_log:
            logs.access(request.method, request.url.path, response.status_code,
                        round((time.perf_counter() - started) * 1000, 2))
        return response

    routes = [
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


async def _answer(request: Request, router: Router, base_path: str) -> Response:
    try:
        fhir_request = await _fhir_request(request, router, base_path)
        response = await anyio.to_thread.run_sync(router.handle, fhir_request)
        return _render(response, fhir_request)
    except FhirError as error:
        if error.status >= 500:
            log.error("request failed", method=request.method, path=request.url.path, error=error.message)
        return _error_response(error)
    except Exception:
        log.exception("request failed", method=request.method, path=request.url.path)
        return _error_response(FhirError(500, "Internal error; the node log has the details", "exception"))


async def _fhir_request(request: Request, router: Router, base_path: str) -> FhirRequest:
    settings = router.settings
    params = parse_qsl(request.url.query, keep_blank_values=True)
    _negotiate(request, params)
    body: Any = None
    if request.method in ("POST", "PUT", "PATCH"):
        raw = await _read_body(request, settings.max_body_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and request.url.path.endswith("/_search"):
            params += parse_qsl(raw.decode(), keep_blank_values=True)
        elif raw:
            if content_type not in _JSON_TYPES:
                raise FhirError(415, f"Unsupported content type '{content_type}'; send application/fhir+json")
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise FhirError(400, f"The body is not valid JSON: {error}", "structure") from error
    prefer = _prefer(request.headers.get("prefer", ""))
    path = request.url.path[len(base_path) :].strip("/")
    return FhirRequest(
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
    )


def _negotiate(request: Request, params: list[tuple[str, str]]) -> None:
    requested = dict(params).get("_format")
    if requested is not None:
        if requested.lower() in _XML_FORMATS:
            raise FhirError(406, "FHIR XML is not available on this node yet; ask for JSON", "not-supported")
        if requested.lower() not in _JSON_FORMATS:
            raise FhirError(406, f"Unknown _format '{requested}'", "not-supported")
        return
    accept = request.headers.get("accept", "")
    if accept and "xml" in accept and not any(t in accept for t in ("json", "*/*")):
        raise FhirError(406, "FHIR XML is not available on this node yet; ask for JSON", "not-supported")


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


def _render(response: FhirResponse, request: FhirRequest) -> Response:
    headers = dict(response.headers)
    stored = response.stored
    if stored is not None and not stored.deleted:
        headers["ETag"] = stored.etag
        headers["Last-Modified"] = formatdate(stored.updated_ms / 1000, usegmt=True)
    if response.location:
        headers["Location"] = f"{request.base_url}/{response.location}"
    if response.status in (204, 304):
        return Response(None, response.status, headers=headers)
    payload = response.payload(request.prefer_return)
    if payload is None:
        return Response(None, response.status, headers=headers)
    media_type = headers.pop("Content-Type", FHIR_JSON)
    return Response(payload, response.status, headers=headers, media_type=media_type)


def _error_response(error: FhirError) -> Response:
    return Response(orjson.dumps(error.outcome()), error.status, media_type=FHIR_JSON)


def _operation_names(router: Router) -> set[tuple[str, str]]:
    return {
        (pattern.rsplit("$", 1)[-1], f"{router.settings.base_url}/OperationDefinition/{pattern.rsplit('$', 1)[-1]}")
        for _, pattern in router.operations
    }
