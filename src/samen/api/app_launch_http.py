"""HTTP for SMART App Launch: ``GET [base]/auth/authorize`` and ``GET [base]/auth/callback``.

Only translation: query parameters in, a redirect (with the cookie that binds the launch to the
browser) or a small error page out. :mod:`samen.auth.app_launch` decides.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import anyio
import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from samen.auth.app_launch import AUTHORIZE_PATH, CALLBACK_PATH, LAUNCH_LIFETIME_S, AppLaunch, LaunchRefused, Redirect

COOKIE = "samen_launch"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
_REFUSED_PAGE = """<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><title>Aanmelden niet mogelijk</title></head>
<body><main>
<h1>Aanmelden niet mogelijk</h1>
<p>Dit verzoek van de app is onbekend, verlopen of niet toegestaan. Ga terug naar de app en probeer het opnieuw.</p>
<section lang="en"><h2>Sign-in not possible</h2>
<p>This request from the app is unknown, expired or not allowed. Go back to the app and try again.</p></section>
</main></body></html>"""

log = structlog.get_logger("samen.auth.app_launch")


def app_launch_routes(launch: AppLaunch, base_path: str) -> list[Route]:
    secure = launch.base_url.startswith("https://")

    async def authorize(request: Request) -> Response:
        query = parse_qsl(request.url.query, keep_blank_values=True)
        try:
            step = await anyio.to_thread.run_sync(launch.authorize, query)  # may fetch the IdP's discovery
        except LaunchRefused as refused:
            return _refused(refused)
        response = _redirect(step)
        if step.browser_secret:
            response.set_cookie(COOKIE, step.browser_secret, max_age=LAUNCH_LIFETIME_S, path=f"{base_path}/auth/",
                                secure=secure, httponly=True, samesite="lax")
        return response

    async def callback(request: Request) -> Response:
        query = parse_qsl(request.url.query, keep_blank_values=True)
        try:
            step = await anyio.to_thread.run_sync(launch.callback, query, request.cookies.get(COOKIE, ""))
        except LaunchRefused as refused:
            return _refused(refused)
        response = _redirect(step)
        response.delete_cookie(COOKIE, path=f"{base_path}/auth/", secure=secure, httponly=True, samesite="lax")
        return response

    return [
        Route(f"{base_path}/{AUTHORIZE_PATH}", authorize, methods=["GET"]),
        Route(f"{base_path}/{CALLBACK_PATH}", callback, methods=["GET"]),
    ]


def _redirect(step: Redirect) -> Response:
    return RedirectResponse(step.url, 302, headers=_NO_STORE)


def _refused(refused: LaunchRefused) -> Response:
    log.warning("launch refused", detail=str(refused))
    return HTMLResponse(_REFUSED_PAGE, 400, headers=_NO_STORE)
