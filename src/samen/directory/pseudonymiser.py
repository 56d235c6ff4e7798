"""The pseudonymisation service (role "pseudonymiser"): BSNs in, recipient-specific transport tokens out.

``POST [base]/$pseudonymize`` takes a Parameters resource with one or more ``identifier`` (valueIdentifier,
BSN system, elfproef), one ``recipient`` (valueIdentifier, URA) and optionally ``scope`` (valueString,
default ``nationale-verwijsindex``), and answers a Parameters resource with one ``token`` (valueIdentifier,
system http://generiekefuncties.nl/nvi/identifier) per identifier, in order. Nothing is stored and
nothing of a request body is logged.

``POST [base]/$objection`` (with ``--localization-index``) takes a citizen's own objection to registration:
a patient-bound token (SMART App Launch), Parameters ``objection`` (valueBoolean) only; the BSN is the
token's. The service makes the index's transport token and calls the index's ``$objection`` with its own
organisation token: the index accepts objections from its trusted pseudonymiser only.

The recipient's public encryption key comes from its FHIR base as listed in the trust list:
``{fhir}/.well-known/encryption-jwks.json`` (https, or loopback for development), cached for a while.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from samen.api.messages import FhirRequest, FhirResponse
from samen.auth.client import TokenClient
from samen.auth.enforcement import Refusal
from samen.auth.keys import KeyStore
from samen.auth.policy import PATIENT, PSEUDONYMISER_RULES
from samen.auth.trust import TrustList
from samen.directory.localization_client import LocalizationClient, LocalizationError, trusted_ura
from samen.directory.pseudonyms import (
    DEFAULT_SCOPE,
    KEY_ALGORITHM,
    TOKEN_SYSTEM,
    is_ura,
    load_or_create_secret,
    recipient_pseudonym,
    seal,
)
from samen.fhir import outcome
from samen.sample import BSN, URA, elfproef
from samen.store.store import Session

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "pseudonymiser"
ENCRYPTION_JWKS_PATH = ".well-known/encryption-jwks.json"
MAX_IDENTIFIERS = 1000  # per request: a custodian's batch, not its whole population
KEY_CACHE_S = 300
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RecipientKeys:
    """Recipients' public encryption keys, found through the trust list and cached; thread-safe."""

    def __init__(self, trust: TrustList, *, http: httpx.Client | None = None) -> None:
        self.trust = trust
        self.http = http or httpx.Client(timeout=5, follow_redirects=False)
        self._cache: dict[str, tuple[ECKey, float]] = {}
        self._lock = threading.Lock()

    def key(self, ura: str) -> ECKey:
        """The encryption key of recipient ``ura``; 422 for an unknown recipient, 502 when it cannot be had."""
        with self._lock:
            cached = self._cache.get(ura)
        if cached is not None and time.monotonic() - cached[1] < KEY_CACHE_S:
            return cached[0]
        organisation = self.trust.organisation(ura)
        if organisation is None or not organisation.fhir_base:
            raise outcome.unprocessable(f"recipient {ura} is not a trusted organisation with a FHIR endpoint")
        url = f"{organisation.fhir_base.rstrip('/')}/{ENCRYPTION_JWKS_PATH}"
        parts = urlsplit(url)
        if parts.scheme != "https" and parts.hostname not in _LOOPBACK:
            raise outcome.unprocessable(f"recipient {ura} does not publish its encryption key over https")
        key = self._download(url, ura)
        with self._lock:
            self._cache[ura] = (key, time.monotonic())
        return key

    def _download(self, url: str, ura: str) -> ECKey:
        try:
            answer = self.http.get(url, headers={"Accept": "application/json"})
            keys = answer.json().get("keys", []) if answer.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            keys = []
        for entry in keys if isinstance(keys, list) else []:
            if (isinstance(entry, dict) and entry.get("use") == "enc" and entry.get("kty") == "EC"
                    and entry.get("crv") == "P-256" and "d" not in entry
                    and entry.get("alg", KEY_ALGORITHM) == KEY_ALGORITHM):
                try:
                    return ECKey.import_key(entry)
                except (JoseError, ValueError, TypeError):
                    continue
        raise outcome.FhirError(502, f"recipient {ura} publishes no usable encryption key at {url}", "transient")

    def close(self) -> None:
        self.http.close()


@dataclass
class Pseudonymiser:
    secret: bytes
    recipients: RecipientKeys

    def tokens(self, bsns: list[str], recipient_ura: str, scope: str = DEFAULT_SCOPE) -> list[str]:
        """One fresh transport token per BSN for ``recipient_ura``."""
        key = self.recipients.key(recipient_ura)
        return [seal(recipient_pseudonym(self.secret, bsn, recipient_ura, scope), key) for bsn in bsns]


@dataclass
class Objections:
    """A citizen's objection to registration, passed on to the index (settings.localization_index) with this
    service's own organisation token: the index accepts objections from its trusted pseudonymiser only."""

    service: Pseudonymiser
    tokens: TokenClient
    index: str
    trust_file: str

    def record(self, bsn: str, objects: bool) -> int:
        """Record or withdraw the objection of ``bsn`` at the index; the registrations removed (502 on failure)."""
        index_ura = trusted_ura(self.trust_file, self.index)
        if not index_ura:
            raise outcome.FhirError(502, f"the localization index {self.index} is not in the trust list", "transient")
        token = self.service.tokens([bsn], index_ura)[0]
        client = LocalizationClient(self.tokens, index=self.index, index_ura=index_ura)
        try:
            return client.object(token, objects)
        except LocalizationError as error:
            raise outcome.FhirError(502, f"the localization index did not take the objection ({error.status})",
                                    "transient") from error
        finally:
            client.http.close()


def install(node: Node) -> None:
    settings = node.settings
    if not settings.keys_dir:
        raise ValueError("the pseudonymiser role needs a keys directory (--keys-dir) for its secret")
    recipients = RecipientKeys(node.auth.trust)
    service = Pseudonymiser(load_or_create_secret(Path(settings.keys_dir)), recipients)
    node.router.register_operation("POST", "$pseudonymize", partial(_pseudonymize, service), writes=False)
    if settings.localization_index and settings.trust_list:  # which index citizens' objections go to
        objections = Objections(service, TokenClient(KeyStore(Path(settings.keys_dir))),
                                settings.localization_index.rstrip("/"), settings.trust_list)
        node.router.register_operation("POST", "$objection", partial(_objection, objections), writes=False)
    node.router.enforcer.policy.add_rules(PSEUDONYMISER_RULES)
    node.services[SERVICE] = service
    node.closers.append(recipients.close)


def _objection(objections: Objections, session: Session, request: FhirRequest) -> FhirResponse:
    """``POST [base]/$objection`` by the citizen (a patient-bound token): Parameters ``objection`` (valueBoolean)
    only. The person is the token's; a request naming anyone (or anything else) is refused."""
    context = request.access
    if context is None or context.kind != PATIENT or not elfproef(context.patient_bsn):
        raise Refusal(403, "Only the citizen themselves records an objection here", rule="citizen-objection",
                      detail="no token bound to a citizen service number", context=context)
    if request.params:
        raise outcome.bad_request("$objection takes no URL parameters")
    body: Any = request.body
    parameters = body.get("parameter") if isinstance(body, dict) and body.get("resourceType") == "Parameters" else None
    if (not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict)
            or parameters[0].get("name") != "objection" or set(parameters[0]) != {"name", "valueBoolean"}
            or not isinstance(parameters[0]["valueBoolean"], bool)):
        raise outcome.bad_request("Send a Parameters resource with one 'objection' (valueBoolean) and nothing "
                                  "else: the person is the one the token is bound to")
    objects = parameters[0]["valueBoolean"]
    removed = objections.record(context.patient_bsn, objects)
    return FhirResponse(200, body={"resourceType": "Parameters", "parameter": [
        {"name": "objection", "valueBoolean": objects}, {"name": "removed", "valueInteger": removed}]})


def _pseudonymize(service: Pseudonymiser, session: Session, request: FhirRequest) -> FhirResponse:
    if request.params:  # a URL is logged and audited: a BSN there would be kept; a careless client learns at once
        raise outcome.bad_request("$pseudonymize takes no URL parameters: send them in the Parameters body")
    bsns, recipient, scope = _read_parameters(request.body)
    tokens = service.tokens(bsns, recipient, scope)
    return FhirResponse(200, body={"resourceType": "Parameters", "parameter": [
        {"name": "token", "valueIdentifier": {"system": TOKEN_SYSTEM, "value": token}} for token in tokens]})


def _read_parameters(body: Any) -> tuple[list[str], str, str]:
    """The BSNs, the recipient's URA and the scope; 400 naming the parameter at fault (never its value)."""
    parameters = body.get("parameter") if isinstance(body, dict) and body.get("resourceType") == "Parameters" else None
    if not isinstance(parameters, list):
        raise outcome.bad_request("Send a Parameters resource with 'identifier' and 'recipient'")
    bsns: list[str] = []
    recipients: list[str] = []
    scopes: list[str] = []
    for n, parameter in enumerate(parameters):
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name == "identifier":
            bsns.append(_identifier(parameter, BSN, f"parameter[{n}]", elfproef))
        elif name == "recipient":
            recipients.append(_identifier(parameter, URA, f"parameter[{n}]", is_ura))
        elif name == "scope" and isinstance(parameter.get("valueString"), str) and parameter["valueString"]:
            scopes.append(parameter["valueString"])
        else:
            raise outcome.bad_request(f"Parameters.parameter[{n}] is not an identifier, recipient or scope")
    if not bsns:
        raise outcome.bad_request("Send at least one 'identifier' (a BSN)")
    if len(bsns) > MAX_IDENTIFIERS:
        raise outcome.bad_request(f"At most {MAX_IDENTIFIERS} identifiers per request", "too-costly")
    if len(recipients) != 1 or len(scopes) > 1:
        raise outcome.bad_request("Send exactly one 'recipient' (a URA) and at most one 'scope'")
    return bsns, recipients[0], scopes[0] if scopes else DEFAULT_SCOPE


def _identifier(parameter: dict[str, Any], system: str, where: str, valid: Any) -> str:
    identifier = parameter.get("valueIdentifier")
    value = identifier.get("value") if isinstance(identifier, dict) else None
    if not isinstance(identifier, dict) or identifier.get("system") != system or not isinstance(value, str) \
            or not valid(value):
        raise outcome.bad_request(f"Parameters.{where} must be a valueIdentifier with system {system} and a valid "
                                  "value")
    return value
