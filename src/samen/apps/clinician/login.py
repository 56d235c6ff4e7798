"""A professional's login to the clinician view: OpenID Connect code flow with PKCE at the professional IdP.

Free of HTTP, two steps:

1. :meth:`ProfessionalLogin.begin`: a login in progress is kept (:mod:`samen.auth.grants`, so any worker can
   finish it), bound to this browser by a secret for its cookie; the browser goes to the IdP.
2. :meth:`ProfessionalLogin.finish`: the node exchanges the IdP's code with its PKCE verifier, verifies the
   id_token (discovery keys, issuer, audience, nonce) and the ``professional_attestation`` beside it (signed by
   an IdP the trust list names as ``professional``, current, about the same UZI number). Only a professional of
   this node's own organisation (URA) gets in; the session ends when the attestation does.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from samen.auth import jose, pkce
from samen.auth.attestations import AttestationError, verify_professional
from samen.auth.context import Professional
from samen.auth.grants import OneTimeGrants, digest
from samen.auth.oidc_client import IdentityProviderError, IdTokenError, OidcRelyingParty
from samen.auth.trust import TrustList

LOGIN_KIND = "clinician-login"
LOGIN_LIFETIME_S = 600  # time to log in at the identity provider

log = structlog.get_logger("samen.apps.clinician")


class LoginRefused(Exception):
    """The login did not let anyone in; ``reason`` is a key of the page texts, ``detail`` for the log only."""

    def __init__(self, reason: str, detail: str, status: int = 400, lang: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.status = status
        self.lang = lang  # the language the login was started in ("": unknown)


@dataclass(frozen=True)
class Started:
    """Where the browser goes to log in, and the secret its cookie keeps until it comes back."""

    url: str
    browser_secret: str


@dataclass(frozen=True)
class SignedIn:
    """The professional a login established, the attestation to pass on, and when both end."""

    professional: Professional
    attestation: str
    expires: float
    lang: str


class ProfessionalLogin:
    def __init__(self, idp: OidcRelyingParty, grants: OneTimeGrants, trust: TrustList, ura: str,
                 callback_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self.idp = idp
        self.grants = grants
        self.trust = trust
        self.ura = ura
        self.callback_url = callback_url
        self.clock = clock

    def begin(self, lang: str) -> Started:
        """Raises :class:`LoginRefused` when the identity provider cannot be reached."""
        verifier, nonce, browser_secret = pkce.new_verifier(), secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        handle = self.grants.put(LOGIN_KIND, {"verifier": verifier, "nonce": nonce, "lang": lang,
                                              "browser": digest(browser_secret)}, LOGIN_LIFETIME_S)
        try:
            url = self.idp.authorization_url(redirect_uri=self.callback_url, state=handle, nonce=nonce,
                                             code_challenge=pkce.challenge_of(verifier), locale=lang)
        except IdentityProviderError as error:
            raise LoginRefused("idp_unavailable", str(error), 503) from error
        return Started(url, browser_secret)

    def finish(self, params: dict[str, str], browser_secret: str) -> SignedIn:
        """The professional of a completed login; raises :class:`LoginRefused`."""
        login = self.grants.take(LOGIN_KIND, params.get("state", ""))
        if login is None:
            raise LoginRefused("login_expired", "unknown, used or expired login")
        if not hmac.compare_digest(digest(browser_secret), login["browser"]):
            raise LoginRefused("login_expired", "the login was started in another browser")
        try:
            return self._finish(login, params)
        except LoginRefused as refused:
            refused.lang = login["lang"]
            raise

    def _finish(self, login: dict[str, str], params: dict[str, str]) -> SignedIn:
        if "error" in params:
            raise LoginRefused("login_cancelled", f"provider error {params['error'][:60]!r}")
        if "iss" in params and params["iss"] != self.idp.issuer:  # RFC 9207: a mixed-up response
            raise LoginRefused("login_unverified", f"iss {params['iss'][:100]!r}")
        try:
            tokens = self.idp.exchange(code=params.get("code", ""), redirect_uri=self.callback_url,
                                       code_verifier=login["verifier"])
            claims = self.idp.verify_id_token(tokens["id_token"], nonce=login["nonce"])
            attestation = tokens.get("professional_attestation")
            if not isinstance(attestation, str):
                raise AttestationError("the token response carries no professional_attestation")
            professional = verify_professional(attestation, self.trust, now=self.clock())
        except (IdentityProviderError, IdTokenError, AttestationError) as error:
            raise LoginRefused("login_unverified", str(error)) from error
        if claims.get("sub") != professional.uzi:
            raise LoginRefused("login_unverified", "the attestation names another professional than the id_token")
        if professional.ura != self.ura:
            raise LoginRefused("other_organisation", f"URA {professional.ura[:20]} is not this node's", 403)
        expires = float(jose.unverified_claims(attestation)["exp"])
        log.info("clinician signed in", uzi=professional.uzi, role=professional.role)
        return SignedIn(professional, attestation, expires, login["lang"])


