"""The consent registry role (Mitz-like): citizens' choices as FHIR Consent, the closed question, notifications.

``install(node)`` makes the node:

- serve ``Consent`` from its own store, with full history, through :class:`ConsentProvider`, which takes
  only catalogue choices and lets a citizen (patient token, their PGO) write only their own;
- compile every Consent write into ``consent_choice`` in the same transaction (a store write observer),
  so ``POST [base]/$consent-check`` (the closed question) is one index lookup;
- serve ``Subscription`` to data holders, each seeing and managing only its own (:class:`SubscriptionProvider`),
  and notify their endpoints when a citizen's choices change (:mod:`samen.consent.notifier`).

See docs/consent.md for the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Route, Router
from samen.auth.enforcement import Grant
from samen.auth.policy import ADMINISTRATION, CONSENT_REGISTRY_RULES, PATIENT, SYSTEM
from samen.auth.trust import TrustList
from samen.consent import catalogue, choices
from samen.consent.notifier import Notifier
from samen.fhir import outcome
from samen.fhir.primitives import now_ms
from samen.sample import BSN, URA, elfproef
from samen.store.search import parse_search
from samen.store.store import Session, Write

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "consent-registry"
NOTIFIER = "consent-notifier"
CHECK = "$consent-check"
# The use cases of care providers' nodes: none is served here (a BgZ token bound to a person would learn from
# the registry's Patient that the person recorded choices). The citizen's own access (patient-self-access),
# administration and the operator stay.
NOT_SERVED = frozenset({"bgz", "acute-care", "medication-transfer", "eoverdracht-sender", "eoverdracht-receiver",
                        "directory-query", "directory-update"})


def install(node: Node) -> None:
    node.router.enforcer.policy.remove_rules(NOT_SERVED)
    node.router.enforcer.policy.add_rules(CONSENT_REGISTRY_RULES)
    notifier = Notifier(node.store)
    node.store.observers.append(lambda session, writes: _observe(session, writes, notifier))
    node.router.register_provider("Consent", ConsentProvider(node.router))
    node.router.register_provider("Subscription", SubscriptionProvider(node.router, node.auth.trust))
    node.router.register_operation("POST", CHECK, consent_check, writes=False)
    node.services[SERVICE] = node.router.providers["Consent"]
    node.services[NOTIFIER] = notifier
    notifier.start()
    node.closers.append(notifier.stop)


# -- the closed question ----------------------------------------------------------------------------


def consent_check(session: Session, request: FhirRequest) -> FhirResponse:
    """``POST [base]/$consent-check``: permit or deny, and the rule that decided (docs/consent.md)."""
    asked = _question(request.body)
    context = request.access
    if context is not None and context.kind == SYSTEM:
        own = catalogue.holder_category(context.client_type)
        if own is None:
            raise outcome.FhirError(403, f"organisations of type '{context.client_type}' hold no data in a "
                                         "catalogue category and may not ask the closed question", "forbidden")
        if asked["holder-category"] != own or asked.get("holder", context.client_ura) != context.client_ura:
            raise outcome.FhirError(403, "a data holder asks the closed question about its own release only "
                                         f"(holder {context.client_ura}, category {own})", "forbidden")
    answer = choices.decide(session.conn, asked["patient"], asked["holder-category"], asked["data-category"],
                            asked["requester-category"])
    parameters: list[dict[str, Any]] = [
        {"name": "decision", "valueCode": "permit" if answer.permit else "deny"},
        {"name": "rule", "valueString": answer.rule},
    ]
    if answer.consent_id is not None:
        parameters.append({"name": "consent", "valueReference": {"reference": f"Consent/{answer.consent_id}"}})
    return FhirResponse(200, body={"resourceType": "Parameters", "parameter": parameters})


_QUESTION = {  # name -> (value[x], required, check)
    "patient": ("valueIdentifier", True, BSN),
    "holder": ("valueIdentifier", False, URA),
    "holder-category": ("valueCode", True, "holder"),
    "data-category": ("valueCode", True, "data"),
    "requester": ("valueIdentifier", False, URA),
    "requester-category": ("valueCode", True, "requester"),
    "purpose": ("valueCode", True, ""),
}


def _question(body: Any) -> dict[str, str]:
    """The closed question's parameters by name (identifiers as their value); 400 naming what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters" or not isinstance(body.get("parameter"), list):
        raise outcome.bad_request("Send a Parameters resource with patient, holder-category, data-category, "
                                  "requester-category and purpose")
    asked: dict[str, str] = {}
    for parameter in body["parameter"]:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str) or name not in _QUESTION:
            raise outcome.bad_request(f"Unknown parameter {name!r}; expected {', '.join(_QUESTION)}")
        if name in asked:
            raise outcome.bad_request(f"Parameter '{name}' is given more than once")
        kind, _, check = _QUESTION[name]
        asked[name] = _value(name, parameter.get(kind), kind, check)
    missing = [name for name, (_, required, _) in _QUESTION.items() if required and name not in asked]
    if missing:
        raise outcome.bad_request(f"Missing parameter(s): {', '.join(missing)}")
    if not elfproef(asked["patient"]):
        raise outcome.bad_request("Parameter 'patient' is not a valid BSN")
    return asked


def _value(name: str, value: Any, kind: str, check: str) -> str:
    if kind == "valueIdentifier":
        if not isinstance(value, dict) or value.get("system") != check or not isinstance(value.get("value"), str):
            raise outcome.bad_request(f"Parameter '{name}' must be a valueIdentifier with system {check}")
        return value["value"]
    if not isinstance(value, str) or not value:
        raise outcome.bad_request(f"Parameter '{name}' must be a valueCode")
    if check and not catalogue.is_code(check, value):
        raise outcome.bad_request(f"Parameter '{name}': '{value}' is not a code of {catalogue.system(check)}")
    return value


# -- keeping the compiled tables with the resources ---------------------------------------------------


def _observe(session: Session, writes: Sequence[Write], notifier: Notifier) -> None:
    """In the writing transaction: compile Consent choices (and queue notifications), mirror Subscriptions."""
    changed = False
    for write in writes:
        if write.res_type == "Consent":
            _compile(session, write)
            changed = True
        elif write.res_type == "Subscription":
            _mirror(session, write)
    if changed:
        notifier.wake()


def _compile(session: Session, write: Write) -> None:
    content = write.content
    if content is None:  # a deletion: the BSN is the last version's
        previous = session.vread("Consent", write.res_id, write.version - 1)
        bsn = _bsn_of(session, previous.json()) if previous is not None and previous.content else None
        choice = None
    else:
        bsn = _bsn_of(session, content)
        choice = _choice_or_none(content) if content.get("status") == "active" else None
    choices.compile_choice(session.conn, write.res_id, bsn, choice, now_ms())
    if bsn:
        session.conn.execute(
            "INSERT INTO consent_delivery (subscription_id, consent_id, bsn, attempts, due_ms) "
            "SELECT id, ?, ?, 0, ? FROM consent_subscription WHERE bsn = ? OR bsn = ''",
            (write.res_id, bsn, now_ms(), bsn),
        )


def _choice_or_none(content: dict[str, Any]) -> choices.Choice | None:
    """The choice an active Consent records; None for a Consent that is no catalogue choice (e.g. imported)."""
    try:
        return choices.read_choice(content)
    except outcome.FhirError:
        return None


def _bsn_of(session: Session, consent: dict[str, Any]) -> str | None:
    """The BSN of the Consent's patient: its identifier, else the BSN of the Patient it refers to."""
    patient = consent.get("patient") if isinstance(consent.get("patient"), dict) else {}
    identifier = patient.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") == BSN and isinstance(identifier.get("value"), str):
        return identifier["value"]
    reference = patient.get("reference")
    if isinstance(reference, str) and reference.startswith("Patient/"):
        stored = session.read("Patient", reference.removeprefix("Patient/"))
        if stored is not None and stored.content is not None:
            return next((i.get("value") for i in stored.json().get("identifier") or ()
                         if isinstance(i, dict) and i.get("system") == BSN), None)
    return None


def _mirror(session: Session, write: Write) -> None:
    session.conn.execute("DELETE FROM consent_subscription WHERE id = ?", (write.res_id,))
    content = write.content
    if content is None or content.get("status") != "active":
        return
    channel = content.get("channel") or {}
    session.conn.execute(
        "INSERT INTO consent_subscription (id, owner, bsn, endpoint, headers) VALUES (?, ?, ?, ?, ?)",
        (write.res_id, owner_of(content), criteria_bsn(content.get("criteria")) or "", channel.get("endpoint", ""),
         orjson.dumps(channel.get("header") or []).decode()),
    )


# -- serving the registry's types -----------------------------------------------------------------------


class _StoredType:
    """A type kept in the resource store, served as the router would after the checks of a subclass."""

    interactions = frozenset({"read", "vread", "search", "history", "create", "update", "delete"})

    def __init__(self, router: Router) -> None:
        self.router = router

    def serve_stored(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
                     new_id: str | None) -> FhirResponse:
        return self.router.serve_stored(session, request, route, grant, new_id)


class ConsentProvider(_StoredType):
    """``Consent`` at the registry: only catalogue choices, a citizen writes only their own, care providers read none.

    A written Consent may name its patient by BSN only (``patient.identifier``): the registry then
    refers it to its Patient with that BSN, made on the first choice.
    """

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse:
        interaction = route.asked.interaction
        if grant.context.kind == SYSTEM and grant.context.purpose != ADMINISTRATION:  # e.g. a BgZ token here
            raise grant.refuse("Care providers ask the closed question ($consent-check); a citizen's choices are "
                               "not released", f"{interaction} of Consent with purpose {grant.context.purpose}",
                               "consent-registry")
        citizen = grant.context.patient_bsn if grant.context.kind == PATIENT else None
        if interaction in ("update", "delete") and citizen is not None and route.res_id is not None:
            stored = session.read("Consent", route.res_id, for_update=True)
            if stored is not None and stored.content is not None and _bsn_of(session, stored.json()) != citizen:
                raise grant.refuse("A citizen may change only their own choices",
                                   f"Consent/{route.res_id} is another person's", "consent-self-service")
        if interaction in ("create", "update"):
            self._admit(session, request.body, grant, citizen)
        return self.serve_stored(session, request, route, grant, new_id)

    def _admit(self, session: Session, body: Any, grant: Grant, citizen: str | None) -> None:
        if not isinstance(body, dict) or body.get("resourceType") != "Consent":
            raise outcome.bad_request("Send a Consent resource")
        choices.read_choice(body)
        bsn = _bsn_of(session, body)
        if bsn is None or not elfproef(bsn):
            raise outcome.unprocessable("Consent.patient must name the citizen by BSN (patient.identifier) or refer "
                                        "to a Patient here that carries one", ["Consent.patient"])
        if citizen is not None and bsn != citizen:
            raise grant.refuse("A citizen may record only their own choices",
                               "the Consent names another person than the token's", "consent-self-service")
        body["patient"] = {"reference": f"Patient/{self.patient_id(session, bsn)}",
                           "identifier": {"system": BSN, "value": bsn}}

    @staticmethod
    def patient_id(session: Session, bsn: str) -> str:
        """The registry's Patient for ``bsn``, made (carrying only the BSN) when there is none yet."""
        session.lock(f"consent-patient-{bsn}")
        query = parse_search(session.store.model, "Patient", [("identifier", f"{BSN}|{bsn}"), ("_count", "1"),
                                                               ("_sort", "_id"), ("_total", "none")])
        found = session.search(query).matches
        if found:
            return found[0].res_id
        return session.create({"resourceType": "Patient", "identifier": [{"system": BSN, "value": bsn}]}).res_id


class SubscriptionProvider(_StoredType):
    """``Subscription`` at the registry: a data holder subscribes to changes and sees only its own.

    The owner is the holder's URA, kept as a ``meta.tag`` (system URA) that the registry sets; another
    holder's Subscription does not exist for the caller (404). The registry POSTs to the endpoint, so a
    holder may name one on the origin (scheme, host, port) of its own FHIR base as the trust list lists
    it, never loopback, an internal address or another member's node.
    """

    def __init__(self, router: Router, trust: TrustList) -> None:
        super().__init__(router)
        self.trust = trust

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse:
        owner = grant.context.client_ura if grant.context.kind == SYSTEM else None
        interaction = route.asked.interaction
        if owner is not None and route.res_id is not None:
            stored = session.read("Subscription", route.res_id, for_update=interaction in ("update", "delete"))
            if stored is not None and stored.content is not None and owner_of(stored.json()) != owner:
                raise outcome.not_found(f"Subscription/{route.res_id} is not found")
        if owner is not None and interaction in ("search", "history") and route.res_id is None:
            if interaction == "history":
                raise outcome.FhirError(403, "a data holder searches its own Subscriptions", "forbidden")
            request.params = [*request.params, ("_tag", f"{URA}|{owner}")]
        if interaction in ("create", "update"):
            _admit_subscription(request.body, owner)
            if owner is not None:
                self._keep_home(request.body["channel"]["endpoint"], owner)
        return self.serve_stored(session, request, route, grant, new_id)

    def _keep_home(self, endpoint: str, owner: str) -> None:
        """422 unless ``endpoint`` is on the origin of the owner's FHIR base in the trust list."""
        listed = self.trust.organisation(owner)
        home = listed.fhir_base if listed is not None else ""
        if not home:
            raise outcome.unprocessable(f"The trust list lists no FHIR base for organisation {owner}: the registry "
                                        "notifies only there", ["Subscription.channel.endpoint"])
        origin = _origin(endpoint)
        if origin is None or origin != _origin(home):
            raise outcome.unprocessable(f"Subscription.channel.endpoint must be on {home} (scheme, host and port "
                                        "of your FHIR base in the trust list)", ["Subscription.channel.endpoint"])


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port as the notifier's HTTP client reads ``url``; None for a URL with user info or none."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.userinfo or not parsed.host:
        return None
    return parsed.scheme, parsed.host, parsed.port


def _admit_subscription(body: Any, owner: str | None) -> None:
    """A rest-hook Subscription to Consent changes, made active, owned by ``owner`` (the caller's URA)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Subscription":
        raise outcome.bad_request("Send a Subscription resource")
    criteria = body.get("criteria")
    if not isinstance(criteria, str) or (criteria != "Consent" and criteria_bsn(criteria) is None):
        raise outcome.unprocessable("Subscription.criteria must be 'Consent' or "
                                    f"'Consent?patient.identifier={BSN}|<bsn>'", ["Subscription.criteria"])
    channel = body.get("channel")
    endpoint = channel.get("endpoint") if isinstance(channel, dict) else None
    if (not isinstance(channel, dict) or channel.get("type") != "rest-hook" or not isinstance(endpoint, str)
            or urlsplit(endpoint).scheme not in ("http", "https")):
        raise outcome.unprocessable("Subscription.channel must be a rest-hook with an http(s) endpoint",
                                    ["Subscription.channel"])
    if channel.get("payload", "application/fhir+json") != "application/fhir+json":
        raise outcome.unprocessable("Subscription.channel.payload must be application/fhir+json",
                                    ["Subscription.channel.payload"])
    headers = channel.get("header") or []
    if not isinstance(headers, list) or not all(isinstance(h, str) and ":" in h for h in headers):
        raise outcome.unprocessable("Subscription.channel.header holds 'Name: value' strings",
                                    ["Subscription.channel.header"])
    status = body.get("status")
    if status not in ("requested", "active", "off"):
        raise outcome.unprocessable("Subscription.status must be requested (made active), active or off",
                                    ["Subscription.status"])
    body["status"] = "active" if status == "requested" else status
    body.pop("error", None)
    channel["payload"] = "application/fhir+json"
    if owner is not None:
        meta = body.setdefault("meta", {}) if isinstance(body.get("meta", {}), dict) else {}
        tags = [t for t in meta.get("tag") or () if isinstance(t, dict) and t.get("system") != URA]
        meta["tag"] = [*tags, {"system": URA, "code": owner}]
        body["meta"] = meta


def owner_of(subscription: dict[str, Any]) -> str:
    """The URA of the data holder a Subscription belongs to ("" for none)."""
    meta = subscription.get("meta") if isinstance(subscription.get("meta"), dict) else {}
    return next((t.get("code", "") for t in meta.get("tag") or () if isinstance(t, dict) and t.get("system") == URA), "")


def criteria_bsn(criteria: Any) -> str | None:
    """The BSN a ``Consent?patient.identifier=<bsn system>|<bsn>`` criteria names, else None."""
    if not isinstance(criteria, str) or not criteria.startswith("Consent?"):
        return None
    params = parse_qsl(criteria.removeprefix("Consent?"))
    if len(params) != 1 or params[0][0] not in ("patient.identifier", "patient:identifier"):
        return None
    system, _, value = params[0][1].rpartition("|")
    return value if system == BSN and elfproef(value) else None
