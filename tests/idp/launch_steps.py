"""The steps of a SMART standalone patient launch, done by hand over HTTP (no redirects followed)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import httpx
from launch_env import APP, LaunchEnv
from oidc_steps import log_in, query_of

from samen.auth import pkce

SCOPE = "launch/patient openid fhirUser patient/*.rs"


@dataclass
class Launch:
    env: LaunchEnv
    verifier: str = field(default_factory=pkce.new_verifier)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def authorize_params(self, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code", "client_id": APP, "redirect_uri": self.env.app_redirect, "scope": SCOPE,
            "state": self.state, "aud": self.env.base_url, "code_challenge": pkce.challenge_of(self.verifier),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}

    def authorize(self, http: httpx.Client, **overrides: str | None) -> httpx.Response:
        config = http.get(f"{self.env.base_url}/.well-known/smart-configuration").json()
        return http.get(f"{config['authorization_endpoint']}?{urlencode(self.authorize_params(**overrides))}")

    def token(self, http: httpx.Client, code: str, **overrides: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.env.app_redirect,
                "client_id": APP, "code_verifier": self.verifier, **overrides}
        return http.post(f"{self.env.base_url}/auth/token", data=form)


def to_node_callback(http: httpx.Client, launch: Launch, bsn: str) -> httpx.Response:
    """Authorize at the node, log in at the citizen IdP; the IdP's redirect back to the node."""
    to_idp = launch.authorize(http)
    assert to_idp.status_code == 302, to_idp.text
    assert to_idp.headers["location"].startswith(launch.env.idp.citizen.issuer + "/authorize?")
    to_login = http.get(to_idp.headers["location"])
    page = http.get(urljoin(str(to_login.url), to_login.headers["location"]))
    back = log_in(http, page, bsn=bsn)
    assert back.status_code == 303 and back.headers["location"].startswith(launch.env.base_url + "/auth/callback?")
    return back


def app_code(http: httpx.Client, launch: Launch, bsn: str) -> str:
    """The code the app receives at its redirect URI after the citizen logged in."""
    back = http.get(to_node_callback(http, launch, bsn).headers["location"])
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(launch.env.app_redirect + "?")
    params = query_of(location)
    assert params["state"] == launch.state and params["iss"] == launch.env.base_url
    return params["code"]
