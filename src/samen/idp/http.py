"""The HTTP face of the test IdPs: each provider's OIDC endpoints and login pages under its own path.

Only translation happens here; the flow's rules are in :mod:`samen.idp.provider`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from samen.idp import pages
from samen.idp.identities import LoginRefused
from samen.idp.provider import OidcError, OidcProvider, RequestRefused

MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the page's URL holds the login request's handle
    "X-Content-Type-Options": "nosniff",
}

log = structlog.get_logger("samen.idp")


def create_idp_app(providers: dict[str, OidcProvider]) -> Starlette:
    """One app serving each provider under its path, e.g. ``{"/citizen": ..., "/professional": ...}``."""
    return Starlette(routes=[Mount(path, routes=provider_routes(provider)) for path, provider in providers.items()])


def provider_routes(provider: OidcProvider) -> list[BaseRoute]:
    async def discovery(request: Request) -> Response:
        return JSONResponse(provider.discovery())

    async def jwks(request: Request) -> Response:
        return JSONResponse(provider.jwks())

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            handle = provider.authorize(params)
        except RequestRefused as refused:
            log.info("authorization request refused", reason=str(refused), client_id=params.get("client_id", ""))
            return _error_page(pages.language(params.get("lang")))
        except OidcError as error:
            return _redirect(provider.error_redirect(params["redirect_uri"], params.get("state", ""), error))
        query = f"request={handle}" + (f"&lang={params['lang']}" if params.get("lang") in pages.LOCALES else "")
        return _redirect(f"login?{query}")

    async def login_page(request: Request) -> Response:
        handle = request.query_params.get("request", "")
        pending = provider.pending(handle)
        if pending is None:
            return _error_page(pages.language(request.query_params.get("lang")))
        lang = pages.language(request.query_params.get("lang"), pending.locale)
        return _login_page(provider, lang, handle, pending.client_id)

    async def log_in(request: Request) -> Response:
        form = await _form(request)
        if form is None:
            return _error_page(pages.language(None))
        handle = form.get("request", "")
        pending = provider.pending(handle)
        lang = pages.language(form.get("lang"), pending.locale if pending else pages.LOCALES[0])
        try:
            if form.get("action") == "cancel":
                return _redirect(provider.cancel(handle))
            return _redirect(provider.log_in(handle, form))
        except RequestRefused:
            return _error_page(lang)
        except LoginRefused as refused:
            assert pending is not None
            return _login_page(provider, lang, handle, pending.client_id, refused.message, form.get("bsn", ""))

    async def token(request: Request) -> Response:
        form = await _form(request)
        try:
            if form is None:
                raise OidcError("invalid_request", "Send the parameters as application/x-www-form-urlencoded")
            return JSONResponse(provider.token(form), headers=NO_STORE)
        except OidcError as error:
            log.info("token request refused", error=error.error, reason=error.description)
            return JSONResponse(error.body(), error.status, headers=NO_STORE)

    async def userinfo(request: Request) -> Response:
        scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not access_token:
                raise OidcError("invalid_token", "Send the access token as a Bearer token", 401)
            return JSONResponse(provider.userinfo(access_token.strip()), headers=NO_STORE)
        except OidcError as error:
            return JSONResponse(error.body(), error.status,
                                headers={**NO_STORE, "WWW-Authenticate": f'Bearer error="{error.error}"'})

    return [
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/jwks.json", jwks, methods=["GET"]),
        Route("/authorize", authorize, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", log_in, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/userinfo", userinfo, methods=["GET", "POST"]),
    ]


def _login_page(provider: OidcProvider, lang: str, handle: str, client_id: str, error: str = "",
                entered: str = "") -> Response:
    identities = provider.identities
    html = pages.login_page(identities.kind, lang, request_handle=handle, client_id=client_id, error=error,
                            entered=entered, professionals=identities.choices)
    return HTMLResponse(html, 400 if error else 200, headers=PAGE_HEADERS)


def _error_page(lang: str) -> Response:
    return HTMLResponse(pages.error_page(lang), 400, headers=PAGE_HEADERS)


def _redirect(url: str) -> Response:
    return RedirectResponse(url, 303, headers=NO_STORE)


async def _form(request: Request) -> dict[str, str] | None:
    """An ``application/x-www-form-urlencoded`` body of at most :data:`MAX_FORM_BYTES`; None otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None
