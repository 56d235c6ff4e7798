"""One OpenID Connect provider, free of HTTP: authorization code flow with PKCE (S256 only).

The steps, each a method: :meth:`OidcProvider.authorize` checks an authorization request and keeps
it while the person logs in; :meth:`OidcProvider.log_in` turns the login form into a single-use
code for the client's redirect URI; :meth:`OidcProvider.token` exchanges the code (with the PKCE
verifier) for an id_token and an access token; :meth:`OidcProvider.userinfo` answers that token.
Only registered clients with their exact redirect URIs are served (deny by default).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from joserfc.jwk import ECKey

from samen.auth import jose, pkce
from samen.idp.identities import Identities
from samen.idp.memory import Expiring

LOCALES = ("nl", "en")


class SigningKeys(Protocol):
    """What the IdP needs of a key store (:class:`samen.auth.keys.KeyStore` has it)."""

    def current(self) -> ECKey: ...

    def public_jwks(self) -> dict: ...


@dataclass(frozen=True)
class Client:
    """A registered relying party: a public client (no secret; PKCE protects its codes)."""

    client_id: str
    redirect_uris: tuple[str, ...]


class OidcError(Exception):
    """An OAuth error (RFC 6749 5.2 / 4.1.2.1): ``error`` code, ``description`` safe to show."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class RequestRefused(Exception):
    """An authorization request that must not go back to its redirect URI (unknown client or URI)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    code_challenge: str
    locale: str  # from ui_locales: the first language the login page speaks


@dataclass(frozen=True)
class _Grant:
    request: AuthorizationRequest
    person: object
    auth_time: int


class OidcProvider:
    def __init__(self, issuer: str, identities: Identities, keys: SigningKeys, clients: tuple[Client, ...], *,
                 login_lifetime_s: float = 600, code_lifetime_s: float = 60, token_lifetime_s: int = 300) -> None:
        self.issuer = issuer.rstrip("/")
        self.identities = identities
        self.keys = keys
        self._clients = {client.client_id: client for client in clients}
        self._logins: Expiring[AuthorizationRequest] = Expiring(login_lifetime_s)
        self._codes: Expiring[_Grant] = Expiring(code_lifetime_s)
        self._access: Expiring[dict[str, object]] = Expiring(token_lifetime_s)
        self.token_lifetime_s = token_lifetime_s

    # -- metadata ---------------------------------------------------------------------------------

    def discovery(self) -> dict[str, object]:
        """OpenID Connect Discovery 1.0 provider metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks.json",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise" if self.identities.kind == "citizen" else "public"],
            "id_token_signing_alg_values_supported": [jose.ALGORITHM],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": [pkce.S256],
            "scopes_supported": list(self.identities.scopes),
            "claims_supported": list(self.identities.claims),
            "ui_locales_supported": list(LOCALES),
            "authorization_response_iss_parameter_supported": True,
        }

    def jwks(self) -> dict:
        return self.keys.public_jwks()

    # -- authorization ----------------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> str:
        """Check an authorization request and keep it for the login page; its handle.

        Raises :class:`RequestRefused` when the client or redirect URI is not registered (the
        answer is an error page, never a redirect), :class:`OidcError` for anything else wrong,
        to be sent to :meth:`error_redirect`.
        """
        client = self._clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None:
            raise RequestRefused("unknown client")
        if redirect_uri not in client.redirect_uris:
            raise RequestRefused("redirect_uri not registered for this client")
        if params.get("response_type") != "code":
            raise OidcError("unsupported_response_type", "Only response_type=code is supported")
        if "openid" not in params.get("scope", "").split():
            raise OidcError("invalid_scope", "The scope must include openid")
        if not params.get("code_challenge"):
            raise OidcError("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        if not pkce.valid_challenge(params["code_challenge"], params.get("code_challenge_method", "plain")):
            raise OidcError("invalid_request", "Only the S256 code challenge method is supported")
        locale = next((tag.split("-")[0] for tag in params.get("ui_locales", "").split()
                       if tag.split("-")[0] in LOCALES), LOCALES[0])
        request = AuthorizationRequest(client.client_id, redirect_uri, params["scope"], params.get("state", ""),
                                       params.get("nonce", ""), params["code_challenge"], locale)
        return self._logins.put(request)

    def pending(self, handle: str) -> AuthorizationRequest | None:
        """The authorization request waiting for a login, while it lasts."""
        return self._logins.get(handle)

    def log_in(self, handle: str, form: Mapping[str, str]) -> str:
        """The redirect URL with a fresh code for the person the form names.

        Raises :class:`~samen.idp.identities.LoginRefused` (the request stays pending) or
        :class:`RequestRefused` when the request is unknown or has expired.
        """
        request = self._logins.get(handle)
        if request is None:
            raise RequestRefused("login request unknown or expired")
        person = self.identities.person(form)
        if self._logins.take(handle) is None:  # a second form sent at the same moment
            raise RequestRefused("login request already used")
        code = self._codes.put(_Grant(request, person, int(time.time())))
        return self._redirect(request, {"code": code})

    def cancel(self, handle: str) -> str:
        """The redirect URL telling the client that the person did not log in."""
        request = self._logins.take(handle)
        if request is None:
            raise RequestRefused("login request unknown or expired")
        return self.error_redirect(request.redirect_uri, request.state,
                                   OidcError("access_denied", "The user cancelled the login"))

    def error_redirect(self, redirect_uri: str, state: str, error: OidcError) -> str:
        params = {**error.body(), "iss": self.issuer}
        if state:
            params["state"] = state
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"

    def _redirect(self, request: AuthorizationRequest, params: dict[str, str]) -> str:
        params = {**params, "iss": self.issuer}  # RFC 9207: which IdP answers, against mix-up
        if request.state:
            params["state"] = request.state
        separator = "&" if "?" in request.redirect_uri else "?"
        return f"{request.redirect_uri}{separator}{urlencode(params)}"

    # -- tokens -----------------------------------------------------------------------------------

    def token(self, form: Mapping[str, str]) -> dict[str, object]:
        """The token response for an authorization code; raises :class:`OidcError`."""
        if form.get("grant_type") != "authorization_code":
            raise OidcError("unsupported_grant_type", "Only grant_type=authorization_code is supported")
        client_id = form.get("client_id", "")
        if client_id not in self._clients:
            raise OidcError("invalid_client", "Unknown client", 401)
        grant = self._codes.take(form.get("code", ""))  # single use: a second try finds nothing
        if grant is None or grant.request.client_id != client_id:
            raise OidcError("invalid_grant", "The code is unknown, used or expired")
        request = grant.request
        if form.get("redirect_uri") != request.redirect_uri:
            raise OidcError("invalid_grant", "redirect_uri differs from the authorization request")
        if not pkce.verifier_matches(form.get("code_verifier", ""), request.code_challenge):
            raise OidcError("invalid_grant", "The code_verifier does not match the code_challenge")
        claims = self.identities.person_claims(grant.person, client_id, request.redirect_uri)
        now = int(time.time())
        id_claims = {**claims, "iss": self.issuer, "aud": client_id, "iat": now,
                     "exp": now + self.token_lifetime_s, "auth_time": grant.auth_time}
        if request.nonce:
            id_claims["nonce"] = request.nonce
        access_token = self._access.put(claims)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
            "scope": request.scope,
            "id_token": self.sign(id_claims),
            **self.identities.extra_tokens(grant.person, self.issuer, self.sign),
        }

    def userinfo(self, access_token: str) -> dict[str, object]:
        """The claims about the person an access token was issued for; raises :class:`OidcError` (401)."""
        claims = self._access.get(access_token)
        if claims is None:
            raise OidcError("invalid_token", "The access token is unknown or expired", 401)
        return claims

    def sign(self, claims: dict[str, object]) -> str:
        return jose.sign(claims, self.keys.current())
