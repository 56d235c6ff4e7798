"""SMART App Launch 2.x, standalone patient launch with PKCE: a citizen's app gets a token for that
citizen's own data at this node.

The flow, each step a method, free of HTTP:

1. :meth:`AppLaunch.authorize` (``GET [base]/auth/authorize``): a registered app asks, with its exact
   redirect URI, ``state``, ``aud`` (this FHIR base), patient scopes and an S256 PKCE challenge. The
   launch is kept (:mod:`samen.auth.grants`) and the browser goes to the citizen identity provider,
   bound to this browser by a cookie secret.
2. :meth:`AppLaunch.callback` (``GET [base]/auth/callback``): the node exchanges the provider's code
   (with its own PKCE verifier), verifies the id_token against the provider's keys (discovery), finds
   this node's Patient records of the BSN and sends the app a single-use code that lives a minute.
3. :meth:`AppLaunch.token` (``POST [base]/auth/token``, ``grant_type=authorization_code``): the app
   redeems the code with its verifier and gets an access token bound to that citizen
   (:class:`~samen.auth.context.AccessContext` of kind ``patient``), the ``patient`` id and, with
   ``openid``, an id_token whose ``fhirUser`` is that Patient.

Only reading is granted (``r`` and ``s`` of the requested patient scopes); a scope the node does not
understand refuses the request. Refusals that cannot go back to the app (unknown app, unregistered
redirect URI, an unknown or foreign launch) are :class:`LaunchRefused`; all others go back to the
app's redirect URI as OAuth errors with its ``state``. Reasons for the log never reach the app.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
import structlog

from samen.api.messages import FhirRequest
from samen.auth import jose, pkce
from samen.auth.apps import RegisteredApp, load_apps
from samen.auth.authorization_server import OAuthError, TokenResponse
from samen.auth.context import AccessContext
from samen.auth.grants import OneTimeGrants, digest
from samen.auth.keys import NoSigningKey
from samen.auth.oidc_client import IdentityProviderError, IdTokenError, OidcRelyingParty
from samen.auth.scopes import ScopeError, parse_scope
from samen.auth.tokens import TokenIssuer
from samen.sample import BSN, elfproef
from samen.settings import Settings
from samen.store.db import Database

if TYPE_CHECKING:
    from samen.api.router import Router
    from samen.auth.node_auth import NodeAuth

AUTHORIZE_PATH = "auth/authorize"
CALLBACK_PATH = "auth/callback"
PURPOSE = "patient-self"
LAUNCH_LIFETIME_S = 600  # time to log in at the identity provider
CODE_LIFETIME_S = 60
IDENTITY_SCOPES = ("openid", "fhirUser", "launch/patient")  # the others (offline_access, launch) are not granted
READ_PERMISSIONS = "rs"

log = structlog.get_logger("samen.auth.app_launch")


class LaunchRefused(Exception):
    """A launch step that cannot be answered at the app's redirect URI; the message is for the log."""


@dataclass(frozen=True)
class Redirect:
    """Where the browser goes next; ``browser_secret`` (when set) binds the launch to this browser."""

    url: str
    browser_secret: str = ""


class AppLaunch:
    def __init__(self, base_url: str, apps: dict[str, RegisteredApp], citizen_idp: OidcRelyingParty,
                 grants: OneTimeGrants, issuer: TokenIssuer, find_patients: Callable[[str], list[str]], *,
                 resource_types: Collection[str], token_lifetime_s: int = 300,
                 code_lifetime_s: float = CODE_LIFETIME_S, clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.apps = apps
        self.citizen_idp = citizen_idp
        self.grants = grants
        self.issuer = issuer
        self.find_patients = find_patients
        self.resource_types = resource_types
        self.token_lifetime_s = token_lifetime_s
        self.code_lifetime_s = code_lifetime_s
        self.clock = clock

    @classmethod
    def for_node(cls, settings: Settings, auth: NodeAuth, database: Database, router: Router,
                 resource_types: Collection[str]) -> AppLaunch:
        """Patient app access as ``settings`` configure it; raises ValueError when it cannot work."""
        if auth.issuer is None:
            raise ValueError("patient app access (--citizen-idp) needs the node's identity (--keys)")
        apps = load_apps(Path(settings.apps_file)) if settings.apps_file else {}
        idp = OidcRelyingParty(settings.citizen_idp, settings.citizen_idp_client_id or settings.base_url,
                               auth.trust.jwks_cache)
        return cls(settings.base_url, apps, idp, OneTimeGrants(database), auth.issuer,
                   partial(patient_ids, router, settings.base_url), resource_types=resource_types,
                   token_lifetime_s=settings.token_lifetime_s)

    @property
    def callback_url(self) -> str:
        """The node's redirect URI at the citizen identity provider."""
        return f"{self.base_url}/{CALLBACK_PATH}"

    def smart_configuration(self, document: dict[str, Any]) -> dict[str, Any]:
        """``[base]/.well-known/smart-configuration`` with what patient apps need added to ``document``."""
        additions: dict[str, Any] = {
            "grant_types_supported": ["authorization_code"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["patient/*.rs", *IDENTITY_SCOPES],
            "capabilities": ["launch-standalone", "client-public", "context-standalone-patient", "permission-v2",
                             "sso-openid-connect"],
        }
        extended = {**document, "authorization_endpoint": f"{self.base_url}/{AUTHORIZE_PATH}",
                    "code_challenge_methods_supported": [pkce.S256]}
        for name, values in additions.items():
            extended[name] = list(dict.fromkeys([*document.get(name, []), *values]))
        return extended

    # -- 1. the app's authorization request ---------------------------------------------------------

    def authorize(self, query: list[tuple[str, str]]) -> Redirect:
        params = _single(query)
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            raise LaunchRefused(f"unknown client_id {params.get('client_id', '')[:80]!r}")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            raise LaunchRefused(f"redirect_uri not registered for {app.client_id}")
        state = params.get("state", "")

        def back(error: str, description: str) -> Redirect:
            log.info("launch refused", client_id=app.client_id, error=error, reason=description)
            return Redirect(self._to_app(redirect_uri, {"error": error, "error_description": description}, state))

        if params.get("response_type") != "code":
            return back("unsupported_response_type", "Only response_type=code is supported")
        if not state:
            return back("invalid_request", "state is required")
        if params.get("aud", "").rstrip("/") != self.base_url:
            return back("invalid_request", "aud must be this server's FHIR base URL")
        if not pkce.valid_challenge(params.get("code_challenge", ""), params.get("code_challenge_method", "plain")):
            return back("invalid_request", "PKCE is required, with code_challenge_method=S256")
        try:
            scopes = self.granted_scopes(params.get("scope", ""))
        except ScopeError as error:
            return back("invalid_scope", str(error))
        verifier, nonce, browser_secret = pkce.new_verifier(), secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        handle = self.grants.put("launch", {
            "client_id": app.client_id, "redirect_uri": redirect_uri, "state": state, "scopes": scopes,
            "code_challenge": params["code_challenge"], "app_nonce": params.get("nonce", ""),
            "idp_verifier": verifier, "idp_nonce": nonce, "browser": digest(browser_secret),
        }, LAUNCH_LIFETIME_S)
        try:
            url = self.citizen_idp.authorization_url(redirect_uri=self.callback_url, state=handle, nonce=nonce,
                                                     code_challenge=pkce.challenge_of(verifier),
                                                     locale=params.get("ui_locales", ""))
        except IdentityProviderError as error:
            log.error("citizen identity provider unavailable", detail=str(error))
            return back("temporarily_unavailable", "The identity provider cannot be reached")
        return Redirect(url, browser_secret)

    def granted_scopes(self, requested: str) -> list[str]:
        """The scopes granted for ``requested``: patient scopes narrowed to reading, the identity scopes
        of a standalone patient launch; raises :class:`ScopeError` for anything not understood."""
        granted: list[str] = []
        for scope in requested.split():
            parsed = parse_scope(scope)
            if parsed is None:
                if scope in IDENTITY_SCOPES:
                    granted.append(scope)
                continue
            if parsed.context != "patient":
                raise ScopeError(f"'{scope[:80]}': a patient app asks for patient/ scopes")
            if parsed.resource_type != "*" and parsed.resource_type not in self.resource_types:
                raise ScopeError(f"'{scope[:80]}' names an unknown resource type")
            permissions = "".join(letter for letter in parsed.permissions if letter in READ_PERMISSIONS)
            if permissions:
                granted.append(f"patient/{parsed.resource_type}.{permissions}")
        if not any(scope.startswith("patient/") for scope in granted):
            raise ScopeError("Ask for at least one patient/ scope to read, such as patient/*.rs")
        return list(dict.fromkeys(granted))

    # -- 2. back from the citizen identity provider -------------------------------------------------

    def callback(self, query: list[tuple[str, str]], browser_secret: str) -> Redirect:
        params = _single(query)
        launch = self.grants.take("launch", params.get("state", ""))
        if launch is None:
            raise LaunchRefused("unknown, used or expired launch")
        if not hmac.compare_digest(digest(browser_secret), launch["browser"]):
            raise LaunchRefused("the launch was started in another browser")

        def back(error: str, description: str, detail: str) -> Redirect:
            log.warning("launch refused", client_id=launch["client_id"], error=error, detail=detail)
            return Redirect(self._to_app(launch["redirect_uri"], {"error": error, "error_description": description},
                                         launch["state"]))

        if "error" in params:
            return back("access_denied", "The citizen did not log in", f"provider error {params['error'][:60]!r}")
        if "iss" in params and params["iss"] != self.citizen_idp.issuer:  # RFC 9207: a mixed-up response
            return back("access_denied", "The login could not be verified", f"iss {params['iss'][:100]!r}")
        try:
            tokens = self.citizen_idp.exchange(code=params.get("code", ""), redirect_uri=self.callback_url,
                                               code_verifier=launch["idp_verifier"])
            claims = self.citizen_idp.verify_id_token(tokens["id_token"], nonce=launch["idp_nonce"])
        except (IdentityProviderError, IdTokenError) as error:
            return back("access_denied", "The login could not be verified", str(error))
        bsn = claims.get("bsn")
        if not isinstance(bsn, str) or not elfproef(bsn):
            return back("access_denied", "The login did not establish a citizen service number", "no valid bsn")
        patients = self.find_patients(bsn)
        if not patients:
            return back("access_denied", "This server holds no record of this person", "no Patient with the BSN")
        code = self.grants.put("code", {
            "client_id": launch["client_id"], "redirect_uri": launch["redirect_uri"], "scopes": launch["scopes"],
            "code_challenge": launch["code_challenge"], "app_nonce": launch["app_nonce"], "bsn": bsn,
            "patients": patients,
        }, self.code_lifetime_s)
        log.info("launch authorized", client_id=launch["client_id"], patient=patients[0])
        return Redirect(self._to_app(launch["redirect_uri"], {"code": code, "iss": self.base_url}, launch["state"]))

    # -- 3. the app redeems its code ----------------------------------------------------------------

    def token(self, form: list[tuple[str, str]]) -> TokenResponse:
        """The token response for ``grant_type=authorization_code``; OAuth errors without internal details."""
        try:
            return self._token(form)
        except OAuthError as refusal:
            log.warning("token refused", grant_type="authorization_code", error=refusal.error, detail=refusal.detail)
            return refusal.response()
        except NoSigningKey as error:
            log.error("token not issued: no valid signing key", detail=str(error))
            return OAuthError(503, "temporarily_unavailable", "This node cannot sign tokens now").response()

    def _token(self, form: list[tuple[str, str]]) -> TokenResponse:
        try:
            fields = _single(form)
        except LaunchRefused as error:
            raise OAuthError(400, "invalid_request", "A parameter is given more than once") from error
        app = self.apps.get(fields.get("client_id", ""))
        if app is None:
            raise OAuthError(401, "invalid_client", "Unknown client", f"client_id {fields.get('client_id', '')[:80]!r}")
        grant = self.grants.take("code", fields.get("code", ""))  # single use, whatever follows
        if grant is None or grant["client_id"] != app.client_id:
            raise OAuthError(400, "invalid_grant", "The code is unknown, used or expired")
        if fields.get("redirect_uri") != grant["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri differs from the authorization request")
        if not pkce.verifier_matches(fields.get("code_verifier", ""), grant["code_challenge"]):
            raise OAuthError(400, "invalid_grant", "The code_verifier does not match the code_challenge")
        scopes: list[str] = grant["scopes"]
        patients: list[str] = grant["patients"]
        context = AccessContext(kind="patient", scopes=frozenset(scopes), client_ura=app.client_id, purpose=PURPOSE,
                                patient_bsn=grant["bsn"], patient_ids=frozenset(patients))
        body: dict[str, Any] = {
            "access_token": self.issuer.issue(context, audience=self.base_url, lifetime_s=self.token_lifetime_s),
            "token_type": "Bearer", "expires_in": self.token_lifetime_s, "scope": " ".join(scopes),
            "patient": patients[0],
        }
        if "openid" in scopes:
            body["id_token"] = self._id_token(app.client_id, patients[0], grant["app_nonce"])
        log.info("token issued", grant_type="authorization_code", client=app.client_id, purpose=PURPOSE,
                 scope=body["scope"], patient_bound=True)
        return TokenResponse(200, body)

    def _id_token(self, client_id: str, patient: str, nonce: str) -> str:
        """OpenID Connect id_token of this node about the citizen: ``fhirUser`` is their Patient here."""
        now = int(self.clock())
        claims: dict[str, Any] = {"iss": self.base_url, "sub": patient, "aud": client_id, "iat": now,
                                  "exp": now + self.token_lifetime_s, "fhirUser": f"{self.base_url}/Patient/{patient}"}
        if nonce:
            claims["nonce"] = nonce
        return jose.sign(claims, self.issuer.keys.current())

    def _to_app(self, redirect_uri: str, params: dict[str, str], state: str) -> str:
        if state:
            params = {**params, "state": state}
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"


def patient_ids(router: Router, base_url: str, bsn: str) -> list[str]:
    """This node's Patient ids with the BSN, asked as the citizen themselves would (so the policy applies)."""
    access = AccessContext(kind="patient", scopes=frozenset({"patient/Patient.rs"}), purpose=PURPOSE,
                           patient_bsn=bsn)
    request = FhirRequest("GET", "Patient", [("identifier", f"{BSN}|{bsn}"), ("_elements", "id"), ("_count", "50")],
                          base_url=base_url, access=access)
    response = router.handle(request)
    if response.status != 200:
        return []
    bundle = orjson.loads(response.payload() or b"{}")
    return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []) if entry.get("resource"))


def _single(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """OAuth parameters, none repeated (RFC 6749 3.1 and 3.2)."""
    params = dict(pairs)
    if len(params) != len(pairs):
        raise LaunchRefused("a parameter is repeated")
    return params


