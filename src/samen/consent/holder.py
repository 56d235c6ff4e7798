"""Consent at the data holder: the closed question asked at the consent registry, on every exchange that needs it.

:class:`RegistryConsent` is the enforcement's consent hook (:class:`~samen.auth.consent.ConsentCheck`)
on a node started with ``--consent-registry``. It asks ``POST [registry]/$consent-check`` with a
token of this organisation (purpose ``consent-check``), keeps each answer for ``--consent-cache``
seconds at most, and forgets a person's answers when the registry notifies a change
(:mod:`samen.consent.notifications`), in every worker of the node (:mod:`samen.consent.notices`). It fails closed: a registry that cannot be reached, refuses,
or answers something it cannot read is a deny, never a permit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import structlog

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.auth.consent import ConsentAnswer, ConsentQuestion
from samen.auth.policy import CONSENT_CHECK
from samen.consent.answers import AnswerCache
from samen.consent.notices import SharedNotices
from samen.sample import BSN, URA

if TYPE_CHECKING:
    from samen.node import Node

CHECK_SCOPES = "system/Consent.rs"  # $consent-check reads the registry's Consents; a token needs a scope
TIMEOUT_S = 3.0
UNAVAILABLE = "consent registry unavailable"

log = structlog.get_logger("samen.consent.holder")


def check_parameters(question: ConsentQuestion) -> dict[str, Any]:
    """The closed question as the Parameters of ``$consent-check``."""
    return {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueIdentifier": {"system": BSN, "value": question.patient_bsn}},
        {"name": "holder", "valueIdentifier": {"system": URA, "value": question.holder_ura}},
        {"name": "holder-category", "valueCode": question.holder_category},
        {"name": "data-category", "valueCode": question.data_category},
        {"name": "requester", "valueIdentifier": {"system": URA, "value": question.requester_ura}},
        {"name": "requester-category", "valueCode": question.requester_category},
        {"name": "purpose", "valueCode": question.purpose},
    ]}


class RegistryConsent:
    """Asks one consent registry (its FHIR base) as this organisation; thread-safe."""

    def __init__(self, registry: str, tokens: TokenClient | None, *, cache_s: float,
                 notices: SharedNotices | None = None, http: httpx.Client | None = None) -> None:
        """``notices``: the changes notified to any worker of this node (None: this process's only)."""
        self.registry = registry.rstrip("/")
        self.tokens = tokens
        self.notices = notices
        self.http = http or httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
        self.answers = AnswerCache(cache_s)
        self.token_request = TokenRequest(f"{self.registry}/auth/token", CONSENT_CHECK, CHECK_SCOPES)

    def answer(self, question: ConsentQuestion) -> ConsentAnswer:
        missing = [name for name, value in (("holder category", question.holder_category),
                                            ("requester category", question.requester_category),
                                            ("data category", question.data_category)) if not value]
        if missing or not question.patient_bsn:
            lacking = ", ".join(missing) or "BSN"
            return self._deny(question, f"no consent can be recorded for this exchange: no {lacking}")
        # the shared notice only matters for a kept answer: with nothing kept (--consent-cache 0) it is not read
        notice = self._last_notice(question.patient_bsn) if self.answers.ttl_s > 0 else None
        cached = self.answers.get(question, notice) if notice is not None else None
        if cached is not None:
            return cached
        generation = self.answers.generation()
        answer = self._ask(question)
        if answer.registry and notice is not None:  # an answer the registry gave, not one for its absence
            self.answers.put(question, answer, generation, notice)
        return answer

    def forget(self, bsn: str) -> int:
        """A change for ``bsn`` was notified: its next question goes to the registry, in every worker.

        Raises when the change cannot be recorded for the other workers (the registry will notify again)."""
        dropped = self.answers.forget(bsn)
        if self.notices is not None:
            self.notices.record(bsn)
        return dropped

    def close(self) -> None:
        self.http.close()

    def _last_notice(self, bsn: str) -> int | None:
        """The person's last change notified to any worker (0: none); None when it cannot be read: then no kept
        answer counts and none is kept."""
        if self.notices is None:
            return 0
        try:
            return self.notices.last(bsn)
        except Exception as error:  # the database is away: ask the registry, whose answer is fresh
            log.error("consent notices unreadable; asking the registry", error=str(error)[:300])
            return None

    def _ask(self, question: ConsentQuestion) -> ConsentAnswer:
        try:
            response = self._post(question)
            if response.status_code == 401 and self.tokens is not None:  # expired or revoked: once more, new token
                self.tokens.forget(self.token_request)
                response = self._post(question)
        except (httpx.HTTPError, TokenRefused) as error:
            log.error("consent registry unreachable", registry=self.registry, error=str(error)[:300])
            return self._deny(question, UNAVAILABLE)
        answer = _read_answer(response, question.data_category, self.registry)
        if answer is None:
            log.error("consent registry answer unreadable", registry=self.registry, status=response.status_code)
            return self._deny(question, UNAVAILABLE)
        return answer

    def _post(self, question: ConsentQuestion) -> httpx.Response:
        if self.tokens is None:
            raise TokenRefused("this node has no keys to get a token with")
        token = self.tokens.token(self.token_request)
        return self.http.post(f"{self.registry}/$consent-check", json=check_parameters(question),
                              headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json",
                                       "Content-Type": "application/fhir+json"})

    @staticmethod
    def _deny(question: ConsentQuestion, rule: str) -> ConsentAnswer:
        return ConsentAnswer(False, rule, question.data_category)


def _read_answer(response: httpx.Response, data_category: str, registry: str) -> ConsentAnswer | None:
    """The registry's answer (``decision``, ``rule``, optional ``consent``); None when it is not one."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        return None
    if not isinstance(body.get("parameter"), list):
        return None
    values: dict[str, Any] = {}
    for parameter in body["parameter"]:
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
            values.setdefault(parameter["name"], parameter)
    decision = values.get("decision", {}).get("valueCode")
    rule = values.get("rule", {}).get("valueString")
    reference = values.get("consent", {}).get("valueReference", {})
    consent = reference.get("reference", "") if isinstance(reference, dict) else None
    if decision not in ("permit", "deny") or not isinstance(rule, str) or not isinstance(consent, str):
        return None
    return ConsentAnswer(decision == "permit", rule, data_category, consent, registry)


def install(node: Node) -> None:
    """Ask the configured consent registry on every exchange that needs consent; warn when a secured node has none."""
    settings = node.settings
    if not settings.consent_registry:
        if not settings.open_mode and node.auth.keys is not None:
            log.warning("no consent registry configured (--consent-registry): this node releases patient data "
                        "without asking the patient's consent; for development only")
        return
    from samen.consent.notifications import ConsentNotifications

    if node.auth.keys is None:
        log.warning("a consent registry is configured but this node has no keys: every consent question is denied")
    tokens = TokenClient(node.auth.keys) if node.auth.keys is not None else None
    consent = RegistryConsent(settings.consent_registry, tokens, cache_s=settings.consent_cache_s,
                              notices=SharedNotices(node.store))
    node.router.enforcer.check_consent(consent, holder_type=settings.organisation_type)
    notifications = ConsentNotifications.for_node(node, consent, tokens)
    node.services["consent-holder"] = consent
    node.services["consent-notifications"] = notifications
    node.closers.append(consent.close)
    node.closers.append(notifications.stop)
