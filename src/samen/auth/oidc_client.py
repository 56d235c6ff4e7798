"""The node as an OpenID Connect relying party of an identity provider known only by its issuer URL.

Everything else comes from the provider's discovery document (OpenID Connect Discovery 1.0): where
to send the person, where to exchange the code, where the signing keys are. So a test IdP of
``samen idp`` and a real one (a DigiD or Dezi OIDC service) are configured the same way. The
document is trusted only when it names exactly the configured issuer and is fetched over https
(or from this machine); id_tokens are checked for signature, issuer, audience, times and nonce.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from samen.auth import jose
from samen.auth.jwks import JwksCache, JwksUnavailable

METADATA_CACHE_S = 3600
TIMEOUT_S = 10.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class IdentityProviderError(Exception):
    """The identity provider cannot be used or refused the exchange; the message is for logs only."""


class IdTokenError(Exception):
    """An id_token that must not be believed; the message is for logs only."""


class OidcRelyingParty:
    """One identity provider (``issuer``) at which this node is registered as ``client_id``."""

    def __init__(self, issuer: str, client_id: str, jwks: JwksCache, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.jwks = jwks
        self.clock = clock
        self._http = httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched at most once an hour."""
        with self._lock:
            if self._metadata is None or self.clock() - self._metadata[0] > METADATA_CACHE_S:
                self._metadata = (self.clock(), self._discover())
            return self._metadata[1]

    def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str,
                          locale: str = "") -> str:
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                  "scope": "openid", "state": state, "nonce": nonce, "code_challenge": code_challenge,
                  "code_challenge_method": "S256"}
        if locale:
            params["ui_locales"] = locale
        endpoint = self.metadata()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The provider's token response for ``code``; raises :class:`IdentityProviderError`."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": code_verifier}
        try:
            answer = self._http.post(self.metadata()["token_endpoint"], data=form,
                                     headers={"Accept": "application/json"})
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise IdentityProviderError(f"token request failed ({type(error).__name__})") from error
        if answer.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else ""
            raise IdentityProviderError(f"token request refused ({answer.status_code} {str(error)[:60]})")
        return body

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of an id_token this provider signed for this client; raises :class:`IdTokenError`."""
        try:
            kid = jose.unverified_header(id_token)["kid"]
            key = self.jwks.key(self.metadata()["jwks_uri"], kid)
            if key is None:
                raise IdTokenError(f"the provider publishes no key {kid[:60]!r}")
            claims = jose.verify(id_token, key)
            jose.check_times(claims, self.clock())
        except (jose.JwsError, JwksUnavailable, IdentityProviderError) as error:
            raise IdTokenError(str(error)) from error
        if claims.get("iss") != self.issuer:
            raise IdTokenError(f"issued by {str(claims.get('iss'))[:100]!r}, not by {self.issuer}")
        audiences = jose.audiences(claims)
        if self.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != self.client_id):
            raise IdTokenError("the id_token is not for this client")
        if claims.get("nonce") != nonce:
            raise IdTokenError("nonce differs from the authorization request")
        return claims

    def close(self) -> None:
        self._http.close()

    def _discover(self) -> dict[str, Any]:
        url = f"{self.issuer}/.well-known/openid-configuration"
        if urlsplit(url).scheme != "https" and (urlsplit(url).hostname or "") not in _LOOPBACK:
            raise IdentityProviderError(f"{self.issuer} does not use https")
        try:
            answer = self._http.get(url, headers={"Accept": "application/json"})
            document = answer.json() if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as error:
            raise IdentityProviderError(f"discovery at {url} failed ({type(error).__name__})") from error
        if not isinstance(document, dict):
            raise IdentityProviderError(f"discovery at {url} answered {answer.status_code} without a document")
        if document.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0 section 4.3
            raise IdentityProviderError(f"the discovery document at {url} names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise IdentityProviderError(f"the discovery document at {url} has no {name}")
        if "S256" not in document.get("code_challenge_methods_supported", ["S256"]):
            raise IdentityProviderError(f"{self.issuer} does not support PKCE with S256")
        return document
