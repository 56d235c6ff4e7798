"""The steps of an OIDC authorization code flow with PKCE, done by hand over HTTP (no redirects followed)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from samen.auth import pkce


@dataclass
class Flow:
    """One login: the client's secrets and what came back."""

    issuer: str
    client_id: str
    redirect_uri: str
    verifier: str = field(default_factory=pkce.new_verifier)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    def authorize_params(self, **overrides: str | None) -> dict[str, str]:
        """The authorization request; an override of None leaves that parameter out."""
        params: dict[str, str | None] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": "openid", "state": self.state, "nonce": self.nonce,
            "code_challenge": pkce.challenge_of(self.verifier), "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}

    def token_form(self, code: str, **overrides: str) -> dict[str, str]:
        return {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "client_id": self.client_id, "code_verifier": self.verifier, **overrides}


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def discover(http: httpx.Client, issuer: str) -> dict:
    response = http.get(f"{issuer}/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()


def open_login_page(http: httpx.Client, flow: Flow, **overrides: str | None) -> httpx.Response:
    """The authorization request and the login page it leads to."""
    metadata = discover(http, flow.issuer)
    response = http.get(f"{metadata['authorization_endpoint']}?{urlencode(flow.authorize_params(**overrides))}")
    assert response.status_code == 303, response.text
    page = http.get(urljoin(str(response.url), response.headers["location"]))
    assert page.status_code == 200
    return page


def hidden_request(page: httpx.Response) -> str:
    match = re.search(r'name="request" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def log_in(http: httpx.Client, page: httpx.Response, **form: str) -> httpx.Response:
    """Send the login form of ``page`` with ``form`` filled in."""
    data = {"request": hidden_request(page), "action": "login", **form}
    return http.post(urljoin(str(page.url), "login"), data=data)


def code_after_login(http: httpx.Client, flow: Flow, **form: str) -> str:
    """The code the client receives at its redirect URI after a successful login."""
    answer = log_in(http, open_login_page(http, flow), **form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(flow.redirect_uri + "?")
    params = query_of(location)
    assert params["state"] == flow.state and params["iss"] == flow.issuer
    return params["code"]


def exchange(http: httpx.Client, flow: Flow, code: str, **overrides: str) -> httpx.Response:
    metadata = discover(http, flow.issuer)
    return http.post(metadata["token_endpoint"], data=flow.token_form(code, **overrides))
