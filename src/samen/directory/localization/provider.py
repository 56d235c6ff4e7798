"""The index's ``List`` endpoint: registrations in, locations out, and never a BSN or the index's pseudonym.

Every transport token is opened with the index's private encryption key into the index's own
pseudonym, the only form in which a person exists here. Answers carry the requester's own token back
as ``subject.identifier``; a read by id has no token to carry and leaves ``subject`` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from joserfc.jwk import ECKey

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Route
from samen.auth.enforcement import Grant, Refusal
from samen.auth.policy import LOCALIZATION_INDEX_RULES, OPEN, OPERATOR, SYSTEM
from samen.directory.localization import lists, storage
from samen.directory.pseudonyms import InvalidToken, unseal
from samen.fhir import outcome
from samen.fhir.outcome import information
from samen.store.store import Session

SUBJECT = "subject:identifier"
_SEARCH_PARAMS = frozenset({SUBJECT, "code", "custodian"})
# The grants this provider serves: its own use cases, the operator and open mode. Another rule (a citizen's
# patient-self-access, an eOverdracht Task) carries obligations on the data that these tables cannot honour.
_OWN_KINDS = frozenset({OPERATOR, OPEN})
_OWN_RULES = frozenset(rule.name for rule in LOCALIZATION_INDEX_RULES)


class LocalizationProvider:
    """A TypeProvider for ``List`` on the localization index."""

    interactions = frozenset({"create", "read", "delete", "conditional-delete", "search"})

    def __init__(self, key: ECKey) -> None:
        self.key = key  # the index's private encryption key: opens transport tokens

    def pseudonym(self, token: str) -> bytes:
        """The index's pseudonym inside a transport token; 400 for a token that is not for this index."""
        try:
            return unseal(token, self.key)
        except InvalidToken as error:
            raise outcome.bad_request(f"{error}; ask the pseudonymiser for a token for this index") from error

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse:
        _check_use_case(grant)
        match route.asked.interaction:
            case "create":
                return self._create(session, request, grant, new_id)
            case "read":
                return self._read(session, route.res_id or "")
            case "delete":
                return self._delete(session, route.res_id or "", grant)
            case "conditional-delete":
                return self._conditional_delete(session, request, grant)
            case "search":
                return self._search(session, request)
        raise outcome.bad_request(f"{route.asked.interaction} is not supported on the localization index")

    def create_many(self, session: Session, requests: Sequence[FhirRequest], grants: Sequence[Grant],
                    new_ids: Sequence[str]) -> list[FhirResponse]:
        """The consecutive ``POST List`` entries of a transaction (see ``CreatesMany``): each checked as
        :meth:`serve` checks one, then one INSERT for all."""
        for grant in grants:
            _check_use_case(grant)
        submitted = [self._submission(request, grant) for request, grant in zip(requests, grants, strict=True)]
        rows = [(new_id, pseudonym, s.category, s.custodian) for new_id, (s, pseudonym) in zip(new_ids, submitted)]
        try:
            registered = storage.register_many(session.conn, rows)
        except storage.Objected as error:
            raise _objected() from error
        return [_created(registration, created, s.token)
                for (registration, created), (s, _) in zip(registered, submitted, strict=True)]

    def _create(self, session: Session, request: FhirRequest, grant: Grant, new_id: str | None) -> FhirResponse:
        submitted, pseudonym = self._submission(request, grant)
        try:
            registration, created = storage.register(session.conn, pseudonym, submitted.category,
                                                     submitted.custodian, new_id)
        except storage.Objected as error:
            raise _objected() from error
        return _created(registration, created, submitted.token)

    def _submission(self, request: FhirRequest, grant: Grant) -> tuple[lists.Submitted, bytes]:
        """The registration a create asks for and the person's pseudonym, once the caller may make it."""
        submitted = lists.read_submission(request.body)
        _check_custodian(grant, submitted.custodian)
        try:
            return submitted, unseal(submitted.token, self.key)
        except InvalidToken as error:
            raise outcome.unprocessable(f"{error}; ask the pseudonymiser for a token for this index",
                                        ["List.subject.identifier.value"]) from error

    def _read(self, session: Session, registration_id: str) -> FhirResponse:
        registration = storage.get(session.conn, registration_id)
        if registration is None:
            raise outcome.not_found(f"List/{registration_id} is not known")
        return FhirResponse(200, body=lists.as_list(registration, None))

    def _delete(self, session: Session, registration_id: str, grant: Grant) -> FhirResponse:
        registration = storage.get(session.conn, registration_id)
        if registration is None:
            raise outcome.not_found(f"List/{registration_id} is not known")
        _check_custodian(grant, registration.custodian)
        storage.delete(session.conn, [registration.id])
        return FhirResponse(200, body=information(f"List/{registration.id} is deleted"))

    def _conditional_delete(self, session: Session, request: FhirRequest, grant: Grant) -> FhirResponse:
        token, categories, custodian = self._criteria(request.params)
        own = grant.context.client_ura if grant.context.kind == SYSTEM else custodian
        if custodian:
            _check_custodian(grant, custodian)
        found = storage.find(session.conn, self.pseudonym(token), categories, own)
        storage.delete(session.conn, [registration.id for registration in found])
        return FhirResponse(200, body=information(f"{len(found)} registration(s) deleted"))

    def _search(self, session: Session, request: FhirRequest) -> FhirResponse:
        token, categories, custodian = self._criteria(request.params)
        found = storage.find(session.conn, self.pseudonym(token), categories, custodian)
        entries = [{"fullUrl": f"{request.base_url}/List/{r.id}", "resource": lists.as_list(r, token),
                    "search": {"mode": "match"}} for r in found]
        return FhirResponse(200, body={"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                                       "entry": entries})

    @staticmethod
    def _criteria(params: Sequence[tuple[str, str]]) -> tuple[str, list[str], str]:
        """``subject:identifier`` (required, once), ``code`` (comma: any of them), ``custodian``."""
        values: dict[str, str] = {}
        for name, value in params:
            if name not in _SEARCH_PARAMS:
                raise outcome.bad_request(f"The localization index does not search by '{name}'; "
                                          f"use {', '.join(sorted(_SEARCH_PARAMS))}", "not-supported")
            if name in values:
                raise outcome.bad_request(f"'{name}' may be given once (use commas for several codes)")
            values[name] = value
        if SUBJECT not in values:
            raise outcome.bad_request("A search of the localization index names the person: subject:identifier")
        token = lists.search_token(values[SUBJECT])
        categories = [lists.search_category(code) for code in values.get("code", "").split(",") if code]
        custodian = lists.search_custodian(values["custodian"]) if "custodian" in values else ""
        return token, sorted(set(categories)), custodian


def _created(registration: storage.Registration, created: bool, token: str) -> FhirResponse:
    return FhirResponse(201 if created else 200, body=lists.as_list(registration, token),
                        location=f"List/{registration.id}")


def _objected() -> outcome.FhirError:
    return outcome.FhirError(409, "The person objects to being registered at the localization index", "business-rule")


def _check_use_case(grant: Grant) -> None:
    """Deny by default: only a grant of the index's own rules (or the operator's, open mode's) reaches the tables."""
    context = grant.context
    if context.kind not in _OWN_KINDS and grant.decision.rule not in _OWN_RULES:
        raise Refusal(403, "The localization index serves registering and searching only", rule=grant.decision.rule,
                      detail=f"rule {grant.decision.rule} does not apply to the localization index", context=context)


def _check_custodian(grant: Grant, custodian: str) -> None:
    """An organisation registers and deletes for itself only (the operator and open mode for anyone)."""
    context = grant.context
    if context.kind == SYSTEM and context.client_ura != custodian:
        raise Refusal(403, "An organisation registers and deletes its own registrations only",
                      rule="localization-custodian", detail=f"{context.client_ura} acted for custodian {custodian}",
                      context=context)


def objection(provider: LocalizationProvider, session: Session, token: str, objects: bool) -> dict[str, Any]:
    """Record (``objects``) or withdraw a person's objection; the Parameters to answer with."""
    pseudonym = provider.pseudonym(token)
    if objects:
        removed = storage.object_to_registration(session.conn, pseudonym)
        return {"resourceType": "Parameters", "parameter": [{"name": "objection", "valueBoolean": True},
                                                            {"name": "removed", "valueInteger": removed}]}
    storage.withdraw_objection(session.conn, pseudonym)
    return {"resourceType": "Parameters", "parameter": [{"name": "objection", "valueBoolean": False}]}
