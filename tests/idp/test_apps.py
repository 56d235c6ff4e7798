"""Small relying-party apps for the browser tests: each starts a login and shows what it got back."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from samen.auth import pkce


def patient_app(fhir_base: str, client_id: str, redirect_uri: str) -> Starlette:
    """A SMART patient app: standalone launch at ``fhir_base``, then it shows the citizen's own data."""
    verifier = pkce.new_verifier()

    async def start(request: Request) -> Response:
        async with httpx.AsyncClient() as http:
            config = (await http.get(f"{fhir_base}/.well-known/smart-configuration")).json()
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "scope": "launch/patient openid fhirUser patient/*.rs", "state": "app-state", "aud": fhir_base,
                  "code_challenge": pkce.challenge_of(verifier), "code_challenge_method": "S256"}
        return RedirectResponse(f"{config['authorization_endpoint']}?{urlencode(params)}", 302)

    async def callback(request: Request) -> Response:
        if request.query_params.get("state") != "app-state" or "code" not in request.query_params:
            return HTMLResponse(f"<p id='error'>{escape(request.query_params.get('error', 'no code'))}</p>", 400)
        async with httpx.AsyncClient() as http:
            tokens = (await http.post(f"{fhir_base}/auth/token", data={
                "grant_type": "authorization_code", "code": request.query_params["code"],
                "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier})).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/fhir+json"}
            patient = (await http.get(f"{fhir_base}/Patient/{tokens['patient']}", headers=bearer)).json()
            bundle = (await http.get(f"{fhir_base}/Observation", params={"patient": tokens["patient"]},
                                     headers=bearer)).json()
        family = patient["name"][0]["family"]
        return HTMLResponse(f"<h1 id='patient'>{escape(family)}</h1>"
                            f"<p id='observations'>{len(bundle.get('entry', []))}</p>")

    return Starlette(routes=[Route("/start", start), Route("/callback", callback)])


def clinician_app(issuer: str, client_id: str, redirect_uri: str) -> Starlette:
    """A relying party of the professional IdP: it shows the professional attestation it received."""
    verifier = pkce.new_verifier()

    async def start(request: Request) -> Response:
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid",
                  "state": "app-state", "code_challenge": pkce.challenge_of(verifier), "code_challenge_method": "S256"}
        return RedirectResponse(f"{issuer}/authorize?{urlencode(params)}", 302)

    async def callback(request: Request) -> Response:
        async with httpx.AsyncClient() as http:
            tokens = (await http.post(f"{issuer}/token", data={
                "grant_type": "authorization_code", "code": request.query_params.get("code", ""),
                "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier})).json()
        return HTMLResponse(f"<pre id='attestation'>{escape(tokens.get('professional_attestation', ''))}</pre>")

    return Starlette(routes=[Route("/start", start), Route("/callback", callback)])
