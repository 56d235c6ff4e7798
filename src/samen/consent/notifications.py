"""Change notifications from the consent registry: a withdrawal counts at the data holder from the next request.

At start the holder subscribes at the registry (an R4 Subscription: criteria ``Consent``, a rest-hook
to ``[base]/consent/notify`` with an ``Authorization: Bearer <secret>`` header), in a background
thread that retries until the registry takes it, so a node starts whether or not the registry is up.
An existing Subscription of the registry for the same endpoint is reused (and given the current
secret), so restarts and several workers keep one. The secret is kept in the key directory
(``consent-notify.secret``, mode 0600) so every worker of the node knows it; it is never logged.

The registry POSTs Parameters (``event`` consent-changed, ``patient`` the BSN, ``consent``,
``subscription``); the endpoint checks the secret (constant-time; wrong or missing: 401, nothing
changes), reads the BSN (malformed: 400) and drops that person's cached answers, in every worker of
the node (:mod:`samen.consent.notices`; a change it cannot record is a 503, so the registry notifies again).
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.auth.policy import CONSENT_SUBSCRIPTION
from samen.consent.holder import RegistryConsent
from samen.fhir.outcome import FhirError, bad_request, information
from samen.sample import BSN, elfproef

if TYPE_CHECKING:
    from samen.node import Node

NOTIFY_PATH = "consent/notify"
SECRET_FILE = "consent-notify.secret"
SUBSCRIPTION_SCOPES = "system/Subscription.crus"
MAX_NOTIFICATION_BYTES = 64 * 1024
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits between subscription attempts; the last repeats
FHIR_JSON = "application/fhir+json"

log = structlog.get_logger("samen.consent.notifications")


def subscription_resource(endpoint: str, secret: str) -> dict[str, Any]:
    """The R4 Subscription of a data holder for changes of consent."""
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Data holder: forget cached consent answers when a citizen's choices change",
        "criteria": "Consent",
        "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": FHIR_JSON,
                    "header": [f"Authorization: Bearer {secret}"]},
    }


def notified_bsn(body: bytes) -> str:
    """The BSN of a consent-changed notification; :class:`FhirError` (400) for anything else."""
    try:
        parameters = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise bad_request("The notification is not JSON") from error
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise bad_request("The notification must be Parameters")
    listed = parameters.get("parameter")
    named = {p["name"]: p for p in listed if isinstance(p, dict) and isinstance(p.get("name"), str)} \
        if isinstance(listed, list) else {}
    if named.get("event", {}).get("valueCode") != "consent-changed":
        raise bad_request("The notification's event must be consent-changed")
    identifier = named.get("patient", {}).get("valueIdentifier")
    if not isinstance(identifier, dict) or identifier.get("system") != BSN:
        raise bad_request(f"The notification's patient must be an identifier of system {BSN}")
    bsn = identifier.get("value")
    if not isinstance(bsn, str) or not elfproef(bsn):
        raise bad_request("The notification's patient is not a valid BSN")
    return bsn


class ConsentNotifications:
    """The subscription at the registry and the endpoint it notifies."""

    def __init__(self, consent: RegistryConsent, tokens: TokenClient | None, *, endpoint: str, secret: str,
                 http: httpx.Client | None = None) -> None:
        self.consent = consent
        self.tokens = tokens
        self.endpoint = endpoint
        self._secret = secret
        self.http = http or httpx.Client(timeout=10, follow_redirects=False)
        self.subscription = ""  # "Subscription/<id>" at the registry, once subscribed
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_node(cls, node: Node, consent: RegistryConsent, tokens: TokenClient | None) -> ConsentNotifications:
        """Serve the endpoint on ``node`` and start subscribing in the background."""
        base_url = node.settings.base_url.rstrip("/")
        secret = _shared_secret(Path(node.settings.keys_dir) if node.settings.keys_dir else None)
        notifications = cls(consent, tokens, endpoint=f"{base_url}/{NOTIFY_PATH}", secret=secret)
        path = urlsplit(base_url).path.rstrip("/")
        node.routes.append(Route(f"{path}/{NOTIFY_PATH}", notifications.receive, methods=["POST"]))
        if tokens is not None:
            notifications.start()
        return notifications

    # -- receiving ------------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """``POST [base]/consent/notify``: the registry says a person's choices changed."""
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self._secret}".encode()):
            log.warning("consent notification refused: wrong or missing secret", client=_client(request))
            return _outcome(FhirError(401, "This endpoint takes notifications of the consent registry only", "login"))
        body = await request.body()
        try:
            if len(body) > MAX_NOTIFICATION_BYTES:
                raise bad_request("The notification is too large", "too-long")
            bsn = notified_bsn(body)
        except FhirError as error:
            log.warning("consent notification refused", reason=error.message)
            return _outcome(error)
        try:
            dropped = await run_in_threadpool(self.consent.forget, bsn)
        except Exception as error:  # the database is away: the registry retries a failed notification
            log.error("consent notification not recorded", error=str(error)[:300])
            return _outcome(FhirError(503, "The change could not be recorded; notify again", "transient"))
        log.info("consent changed: cached answers dropped", dropped=dropped)  # no BSN in the log
        return Response(orjson.dumps(information("cached consent answers dropped")), 200, media_type=FHIR_JSON)

    # -- subscribing ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._keep_trying, name="consent-subscription", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.http.close()

    def _keep_trying(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self.subscribe()
                return
            except (httpx.HTTPError, TokenRefused, SubscriptionRefused) as error:
                wait = RETRY_S[min(attempt, len(RETRY_S) - 1)]
                log.warning("consent subscription failed; trying again", registry=self.consent.registry,
                            error=str(error)[:300], retry_s=wait)
                attempt += 1
                self._stop.wait(wait)

    def subscribe(self) -> str:
        """Subscribe at the registry (or take over this endpoint's Subscription); ``Subscription/<id>``."""
        if self.tokens is None:
            raise TokenRefused("this node has no keys to get a token with")
        registry = self.consent.registry
        token = self.tokens.token(TokenRequest(f"{registry}/auth/token", CONSENT_SUBSCRIPTION, SUBSCRIPTION_SCOPES))
        headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
        found = self.http.get(f"{registry}/Subscription", params={"url": self.endpoint}, headers=headers)
        _expect(found, 200, "search")
        existing = [entry["resource"] for entry in found.json().get("entry") or ()
                    if entry.get("resource", {}).get("channel", {}).get("endpoint") == self.endpoint]
        resource = subscription_resource(self.endpoint, self._secret)
        if existing:
            resource["id"] = existing[0]["id"]
            answer = self.http.put(f"{registry}/Subscription/{resource['id']}", content=orjson.dumps(resource),
                                   headers={**headers, "Content-Type": FHIR_JSON})
            _expect(answer, 200, "update")
        else:
            answer = self.http.post(f"{registry}/Subscription", content=orjson.dumps(resource),
                                    headers={**headers, "Content-Type": FHIR_JSON})
            _expect(answer, 201, "create")
        self.subscription = f"Subscription/{answer.json()['id']}"
        self.subscribed.set()
        log.info("subscribed to consent changes", registry=registry, subscription=self.subscription,
                 endpoint=self.endpoint)
        return self.subscription


class SubscriptionRefused(Exception):
    """The registry did not take the subscription; the message says what it answered."""


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise SubscriptionRefused(f"Subscription {what}: {response.status_code} {response.text[:300]}")


def _shared_secret(keys_dir: Path | None) -> str:
    """The notification secret every worker of this node shares: made once, kept next to the keys (0600).

    Written to a file of its own and linked into place, so a worker starting at the same moment reads
    either nothing (and links its own, which then loses) or the whole secret.
    """
    if keys_dir is None:
        return secrets.token_urlsafe(32)
    path = keys_dir / SECRET_FILE
    if not path.exists():
        draft = keys_dir / f".{SECRET_FILE}.{secrets.token_hex(8)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ValueError(f"{path} holds no usable secret; remove it and start again")
    return secret


def _outcome(error: FhirError) -> Response:
    return Response(orjson.dumps(error.outcome()), error.status, media_type=FHIR_JSON)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else ""
