"""The node's authorization server: SMART Backend Services tokens for other organisations.

``POST [base]/auth/token`` takes an OAuth 2.0 ``client_credentials`` request authenticated with a
``private_key_jwt`` client assertion (RFC 7523) signed by an organisation from the trust list, plus
the context of the exchange: SMART v2 ``system/`` scopes, the purpose of use, optionally the acting
professional (a signed attestation), the patient (BSN), the eOverdracht Task and, for break-the-glass
(purpose ``acute-care``), the professional's stated reason. The answer is a
short-lived access token bound to exactly that context, or an OAuth error without internal details
(the details go to the log).

Free of HTTP: the web layer hands over the form fields and sends back :class:`TokenResponse`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import structlog

from samen.auth.attestations import AttestationError, verify_professional
from samen.auth.context import AccessContext, Professional
from samen.auth.jose import LEEWAY_S, JwsError, audiences, check_times, unverified_claims, unverified_header, verify
from samen.auth.keys import NoSigningKey
from samen.auth.policy import ACUTE_CARE, PURPOSES  # the system purposes; patient-self is the App Launch's
from samen.auth.replay import ReplayCache
from samen.auth.scopes import ScopeError, parse_requested
from samen.auth.tokens import TokenIssuer
from samen.auth.trust import NotTrusted, TrustedOrganisation, TrustList
from samen.sample import elfproef

TOKEN_PATH = "auth/token"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 300
BREAK_THE_GLASS_REASON = "break_the_glass_reason"  # form field: why acute care needs the record without consent
BREAK_THE_GLASS_REASON_LENGTH = (10, 500)  # characters, after trimming
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

log = structlog.get_logger("samen.auth.token")


@dataclass(frozen=True)
class TokenResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: dict(_NO_STORE))


class OAuthError(Exception):
    """A refused token request: ``error`` and ``description`` go to the client, ``detail`` to the log."""

    def __init__(self, status: int, error: str, description: str, detail: str = "") -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.detail = detail or description

    def response(self) -> TokenResponse:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
        return TokenResponse(self.status, {"error": self.error, "error_description": self.description}, headers)


class AuthorizationServer:
    """Issues access tokens for this node's FHIR API (``base_url``), signed by ``issuer``."""

    def __init__(self, base_url: str, issuer: TokenIssuer | None, trust: TrustList, *,
                 resource_types: Collection[str], token_lifetime_s: int = 300,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url
        self.issuer = issuer  # None: this node has no identity (URA and keys) configured
        self.trust = trust
        self.resource_types = resource_types
        self.token_lifetime_s = token_lifetime_s
        self.clock = clock
        self.replay = ReplayCache(clock=clock)

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/{TOKEN_PATH}"

    def token(self, form: list[tuple[str, str]]) -> TokenResponse:
        """Answer one token request; ``form`` holds the request's form fields in order."""
        client = ""  # as claimed, for the log
        try:
            if self.issuer is None:
                raise OAuthError(503, "temporarily_unavailable",
                                 "This node has no organisation identity (URA and signing keys) configured")
            fields = _single_valued(form)
            client = _claimed_client(fields.get("client_assertion", ""))
            context = self._grant(fields)
            token = self.issuer.issue(context, audience=self.base_url, lifetime_s=self.token_lifetime_s)
        except OAuthError as refusal:
            log.warning("token refused", client=client, error=refusal.error, detail=refusal.detail)
            return refusal.response()
        except NoSigningKey as error:
            log.error("token not issued: no valid signing key", detail=str(error))
            return OAuthError(503, "temporarily_unavailable", "This node cannot sign tokens now").response()
        log.info("token issued", client=client, purpose=context.purpose, scope=" ".join(sorted(context.scopes)),
                 professional=context.professional.uzi if context.professional else "",
                 patient_bound=context.patient_bound, task=context.task,
                 break_the_glass=bool(context.reason))  # the reason itself goes to the audit trail only
        return TokenResponse(200, {"access_token": token, "token_type": "Bearer",
                                   "expires_in": self.token_lifetime_s, "scope": " ".join(sorted(context.scopes))})

    def _grant(self, fields: dict[str, str]) -> AccessContext:
        grant_type = fields.get("grant_type")
        if grant_type != "client_credentials":
            if grant_type is None:
                raise OAuthError(400, "invalid_request", "grant_type is required")
            raise OAuthError(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported here")
        organisation = self._authenticate_client(fields)
        try:
            scopes = parse_requested(fields.get("scope", ""), contexts=("system",), resource_types=self.resource_types)
        except ScopeError as error:
            raise OAuthError(400, "invalid_scope", str(error)) from error
        purpose = fields.get("purpose_of_use", "")
        if purpose not in PURPOSES:
            raise OAuthError(400, "invalid_request", f"purpose_of_use is required: one of {', '.join(sorted(PURPOSES))}",
                             f"purpose_of_use {purpose[:40]!r}")
        professional = self._professional(fields.get("professional_attestation"), organisation)
        return AccessContext(
            kind="system", scopes=scopes, client_ura=organisation.ura, client_type=organisation.organisation_type,
            professional=professional, purpose=purpose, patient_bsn=_patient(fields.get("patient")),
            task=_task(fields.get("task")),
            reason=_break_the_glass_reason(purpose, fields.get(BREAK_THE_GLASS_REASON), professional),
        )

    def _authenticate_client(self, fields: dict[str, str]) -> TrustedOrganisation:
        """The organisation that signed the client assertion (RFC 7523 section 3); invalid_client otherwise."""
        if fields.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not fields.get("client_assertion"):
            raise OAuthError(401, "invalid_client", "Authenticate with a private_key_jwt client assertion")
        assertion = fields["client_assertion"]
        try:
            kid = unverified_header(assertion)["kid"]
            client = _claimed_client(assertion)
            if "client_id" in fields and fields["client_id"] != client:
                raise JwsError("client_id differs from the assertion's issuer")
            organisation, key = self.trust.organisation_key(client, kid)
            claims = verify(assertion, key)
            if claims.get("sub") != client:
                raise JwsError("sub is not the client's URA")
            if self.token_endpoint not in audiences(claims):
                raise JwsError(f"aud {str(claims.get('aud'))[:200]!r} is not this token endpoint")
            check_times(claims, self.clock(), max_lifetime_s=MAX_ASSERTION_LIFETIME_S)
            jti = claims.get("jti")
            if not isinstance(jti, str) or not jti:
                raise JwsError("no jti")
        except (JwsError, NotTrusted) as error:
            raise OAuthError(401, "invalid_client", "Client authentication failed",
                             f"client assertion: {error}") from error
        if not self.replay.first_use(f"{client} {jti}", float(claims["exp"]) + LEEWAY_S):
            raise OAuthError(401, "invalid_client", "Client authentication failed",
                             f"client assertion: jti {jti[:80]!r} was used before")
        return organisation

    def _professional(self, attestation: str | None, organisation: TrustedOrganisation) -> Professional | None:
        if attestation is None:
            return None
        try:
            professional = verify_professional(attestation, self.trust, now=self.clock())
        except AttestationError as error:
            raise OAuthError(400, "invalid_grant", "The professional attestation is not acceptable",
                             str(error)) from error
        if professional.ura != organisation.ura:
            raise OAuthError(400, "invalid_grant", "The professional does not act for the requesting organisation",
                             f"attestation ura {professional.ura} for client {organisation.ura}")
        return professional

    def smart_configuration(self) -> dict[str, Any]:
        """``[base]/.well-known/smart-configuration`` (SMART App Launch 2.x, Backend Services)."""
        return {
            "issuer": self.base_url,
            "jwks_uri": f"{self.base_url}/.well-known/jwks.json",
            "token_endpoint": self.token_endpoint,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "scopes_supported": ["system/*.rs", "system/*.cruds"],
            "response_types_supported": ["token"],
            "capabilities": ["client-confidential-asymmetric", "permission-v2"],
            "purposes_of_use_supported": sorted(PURPOSES),
        }


def _single_valued(form: list[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 section 3.2: no parameter more than once."""
    fields: dict[str, str] = {}
    for name, value in form:
        if name in fields:
            raise OAuthError(400, "invalid_request", f"Parameter {name[:40]} is given more than once")
        fields[name] = value
    return fields


def _claimed_client(assertion: str) -> str:
    """The URA the assertion claims as issuer (not yet verified)."""
    try:
        issuer = unverified_claims(assertion).get("iss")
    except JwsError:
        return ""
    return issuer if isinstance(issuer, str) else ""


def _patient(bsn: str | None) -> str:
    if bsn is None:
        return ""
    if not elfproef(bsn):
        raise OAuthError(400, "invalid_request", "patient must be a valid BSN (9 digits, elfproef)")
    return bsn


def _break_the_glass_reason(purpose: str, reason: str | None, professional: Professional | None) -> str:
    """Break-the-glass (acute care without consent) needs a professional who states why; nothing else takes a reason."""
    if purpose != ACUTE_CARE:
        if reason is not None:
            raise OAuthError(400, "invalid_request",
                             f"{BREAK_THE_GLASS_REASON} belongs to purpose_of_use={ACUTE_CARE} only")
        return ""
    shortest, longest = BREAK_THE_GLASS_REASON_LENGTH
    stated = (reason or "").strip()
    if not shortest <= len(stated) <= longest:
        raise OAuthError(400, "invalid_request",
                         f"purpose_of_use={ACUTE_CARE} (break-the-glass) needs {BREAK_THE_GLASS_REASON}: why the "
                         f"record is needed now, {shortest} to {longest} characters",
                         f"reason of {len(stated)} characters")
    if professional is None:
        raise OAuthError(400, "invalid_request",
                         f"purpose_of_use={ACUTE_CARE} (break-the-glass) needs the acting professional's attestation")
    return stated


def _task(task: str | None) -> str:
    if task is None:
        return ""
    if not _FHIR_ID.match(task):
        raise OAuthError(400, "invalid_request", "task must be the id of a Task")
    return task
