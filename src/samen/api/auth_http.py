"""HTTP for the node's authorization server: the token endpoint and the discovery documents.

Only translation lives here; :mod:`samen.auth` decides.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import anyio
import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from samen.api.app_launch_http import app_launch_routes
from samen.auth.authorization_server import TOKEN_PATH, OAuthError
from samen.auth.node_auth import NodeAuth

MAX_FORM_BYTES = 64 * 1024
_DISCOVERY_HEADERS = {"Cache-Control": "public, max-age=300"}

log = structlog.get_logger("samen.http")


TokenRefusals = Callable[[int, str, str, str, str, str, str], None]  # Router.record_token_refusal


def auth_routes(auth: NodeAuth, base_path: str, on_refusal: TokenRefusals | None = None) -> list[Route]:
    """``POST [base]/auth/token``, ``GET [base]/.well-known/smart-configuration`` and ``.../jwks.json``;
    ``on_refusal`` puts each refused token request on the audit trail."""

    async def token(request: Request) -> Response:
        response = await _token(request)
        if response.status_code >= 400 and on_refusal is not None:
            error = orjson.loads(response.body)
            client = request.client.host if request.client else ""
            await anyio.to_thread.run_sync(on_refusal, response.status_code, error.get("error_description", ""),
                                           error.get("error", ""), "POST", TOKEN_PATH, "", client)
        return response

    async def _token(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return _oauth_error(OAuthError(400, "invalid_request", "The request is too large"))
        if content_type != "application/x-www-form-urlencoded":
            refusal = OAuthError(400, "invalid_request", "Send the form as application/x-www-form-urlencoded")
            return _oauth_error(refusal)
        try:
            form = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return _oauth_error(OAuthError(400, "invalid_request", "The form is not readable"))
        try:
            answer = await anyio.to_thread.run_sync(auth.token, form)  # may fetch a partner's JWKS
        except Exception:
            log.exception("token request failed")
            return _oauth_error(OAuthError(500, "server_error", "Internal error; the node log has the details"))
        return JSONResponse(answer.body, answer.status, headers=answer.headers)

    async def smart_configuration(request: Request) -> Response:
        return JSONResponse(auth.smart_configuration(), headers=_DISCOVERY_HEADERS)

    async def jwks(request: Request) -> Response:
        return JSONResponse(auth.public_jwks(), headers=_DISCOVERY_HEADERS)

    return [
        Route(f"{base_path}/{TOKEN_PATH}", token, methods=["POST"]),
        Route(f"{base_path}/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
        Route(f"{base_path}/.well-known/jwks.json", jwks, methods=["GET"]),
        *(app_launch_routes(auth.app_launch, base_path) if auth.app_launch is not None else []),
    ]


def _oauth_error(error: OAuthError) -> Response:
    answer = error.response()
    return JSONResponse(answer.body, answer.status, headers=answer.headers)
