"""Policy enforcement: every request the router answers is judged here, and what it may see is kept to that.

:meth:`Enforcer.judge` authenticates (no context and no open mode: 401) and asks the policy (a deny:
403); a permit comes back as a :class:`Grant` that carries out the decision's obligations on the
data while the request is served:

- patient binding (``patient-compartment``): the token's BSN is resolved to this node's Patient ids
  (``Patient?identifier=bsn|...``, cached briefly); reads of resources outside that compartment are
  refused with 403 whether or not they exist (no existence leak); searches run inside the compartment,
  and a search that names another patient (``subject=Patient/x``, ``subject:identifier=...``,
  ``subject.name=...``, or criteria on Patient that do not select the bound patient) is refused;
  ``_include``/``_revinclude`` results outside the compartment are left out, resources of types outside
  the compartment only when the rule allows them and they mention no other patient; history lists
  the compartment's resources only; writes are refused;
- task binding (``task-scope``): the bound Task, addressed to the caller, and what it refers to;
- ownership (``own-organisation``): a written resource, and the version it replaces, belong to the
  caller's URA (through its organisation reference, or its own URA identifier);
- consent (a decision with ``consent_needed``): after the cached decision, the patient's consent is
  asked on every request (:meth:`Enforcer.consent_answer`), one closed question per data category the
  request can return; a deny is a 403, the permit goes on the grant for the audit record.

An obligation the enforcement cannot carry out for an interaction is a refusal: deny by default.
Every refusal is a :class:`Refusal`; the router records it (:mod:`samen.audit`).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from samen.auth import policy as p
from samen.auth import scopes
from samen.auth.consent import ConsentAnswer, ConsentCheck, ConsentQuestion, NoConsentRegistry, combined
from samen.auth.context import AccessContext
from samen.auth.policy import Decision, Policy, PolicyRequest
from samen.audit.events import Access
from samen.sample import BSN, URA
from samen.auth.trust import TrustList
from samen.consent import catalogue
from samen.fhir.model import Model
from samen.fhir.outcome import FhirError
from samen.store.search import Row, SearchError, parse_search
from samen.store.store import Session

OPEN_CONTEXT = AccessContext(kind=p.OPEN, scopes=frozenset())
OPERATOR_CONTEXT = AccessContext(kind=p.OPERATOR, scopes=frozenset())  # in-process tools of the operator
UNAUTHENTICATED = "Authentication required: send an access token (Authorization: Bearer <token>)"
OTHER_PATIENT = "This token is bound to another patient"
PATIENT_TTL_S = 30.0  # how long a BSN's Patient ids are reused
MAX_CACHED_PATIENTS = 10_000
ID_CHUNK = 500

# The obligations each interaction (or operation) can be served under; any other is a refusal.
_HONOURED = {
    "read": {p.PATIENT_COMPARTMENT, p.TASK_SCOPE},
    "vread": {p.PATIENT_COMPARTMENT, p.TASK_SCOPE},
    "search": {p.PATIENT_COMPARTMENT},
    "history": {p.PATIENT_COMPARTMENT},
    "create": {p.OWN_ORGANISATION},
    "update": {p.OWN_ORGANISATION, p.TASK_SCOPE},  # task scope: the bound Task's status (check_write)
    "delete": {p.OWN_ORGANISATION},
    p.EXPORT: {p.PATIENT_COMPARTMENT},  # a patient-bound export covers that patient's compartment only
}
# eOverdracht (Nictiz TA notified pull): the statuses a receiver may move the Task bound to its token to, from
# each status, and the elements it may change; a completed, rejected or cancelled Task stays as it is.
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"received"}),
    "received": frozenset({"accepted", "rejected"}),
    "accepted": frozenset({"in-progress"}),
    "in-progress": frozenset({"completed"}),
}
TASK_STATUS_ELEMENTS = frozenset({"status", "statusReason", "businessStatus", "output"})
_NOT_PATIENT_CRITERIA = p.RESULT_PARAMS | {"_include", "_revinclude", "_type", "_format", "_pretty"}
_PATIENT_REFERENCE = re.compile(rb'"reference":"([^"]*?)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^"]*)?"')
_LOCAL_REFERENCE = re.compile(r"^([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")


class Refusal(FhirError):
    """A 401 or 403 for the audit trail; the OperationOutcome says only ``reason``, never ``detail``."""

    def __init__(self, status: int, reason: str, *, rule: str, detail: str = "",
                 context: AccessContext | None = None) -> None:
        super().__init__(status, reason, "login" if status == 401 else "forbidden")
        self.reason = reason
        self.rule = rule
        self.detail = detail or reason
        self.context = context
        self.audit: Access | None = None  # what was refused, filled in by the router


class Enforcer:
    """Judges requests for one node: its policy, its model, and whether it runs in open mode."""

    def __init__(self, policy: Policy, model: Model, base_url: str, *, trust: TrustList | None = None,
                 trust_in_process: bool = False) -> None:
        """``trust``: the organisations whose tokens count (a revocation ends their tokens at once; None:
        only this node's own organisation); ``trust_in_process``: a request without access context is
        the operator's (in-process tools such as ``samen import``), never for a router that serves HTTP."""
        self.policy = policy
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.trust = trust
        self.trust_in_process = trust_in_process
        self._patients: dict[str, tuple[tuple[str, ...], float]] = {}  # BSN -> Patient ids, valid until
        self.consent: ConsentCheck = NoConsentRegistry()
        self.holder_type = ""  # this organisation's type (RoleCodeNL), the holder's side of the consent question

    def check_consent(self, consent: ConsentCheck, *, holder_type: str) -> None:
        """Ask ``consent`` (the consent registry) for every request that needs the patient's consent."""
        self.consent = consent
        self.holder_type = holder_type

    def judge(self, context: AccessContext | None, asked: PolicyRequest) -> Grant:
        """The grant for a request with ``context``; raises :class:`Refusal` (401 or 403)."""
        if context is None:
            if self.trust_in_process:
                context = OPERATOR_CONTEXT
            elif self.policy.open_mode:
                context = OPEN_CONTEXT
            else:
                raise Refusal(401, UNAUTHENTICATED, rule="authentication", detail="no access token")
        if context.kind == p.SYSTEM and not self._trusted(context.client_ura):
            raise Refusal(401, "The organisation of this access token is not trusted here", rule="trust",
                          detail=f"organisation {context.client_ura} is not (or no longer) in the trust list",
                          context=context)
        decision = self.policy.decide(context, asked)
        if not decision.permit:
            raise Refusal(403, decision.reason, rule=decision.rule, context=context)
        unmet = decision.obligations - _HONOURED.get(asked.operation or asked.interaction, set())
        if unmet:
            raise Refusal(403, "This request cannot be served within the limits of the token", rule=decision.rule,
                          detail=f"{asked.interaction} cannot honour {', '.join(sorted(unmet))}", context=context)
        consent = self.consent_answer(context, asked, decision) if decision.consent_needed else None
        return Grant(self, context, decision, consent)

    def consent_answer(self, context: AccessContext, asked: PolicyRequest, decision: Decision) -> ConsentAnswer | None:
        """The consent registry's permit for every data category ``asked`` can return or read (in one answer);
        :class:`Refusal` (403) on the first deny; None when the request touches no data of the person.

        Asked per request, never cached with the decision. The types outside the Patient compartment
        (Medication, Practitioner, ...) have no category of their own: they are released with the data
        that refers to them (and served only as far as they mention no other patient). The Patient
        resource itself (the person's demographics, and that they are a patient here) is released when
        the person permits the requester at least one category of the data the rule covers. A
        compartment type the catalogue has no category for is asked with an empty category, which the
        registry's hook denies: data the citizen could not choose about is not released.
        """
        categories = self._data_categories(asked, decision)
        if categories:
            return combined([self._permitted(context, category, self.consent.answer(self._question(context, category)))
                             for category in sorted(categories, key=lambda c: (not c, c))])  # "unknown" last
        if "Patient" not in (asked.types or (asked.res_type,)):
            return None
        answers = []
        for category in sorted(self._covered_categories(decision)):  # the Patient: with the data of any category
            answer = self.consent.answer(self._question(context, category))
            if answer.permit:
                return answer
            answers.append(answer)
        refused = combined(answers) if answers else ConsentAnswer(False, "the rule covers no data category")
        return self._permitted(context, refused.data_category, refused)

    def _question(self, context: AccessContext, category: str) -> ConsentQuestion:
        return ConsentQuestion(context.patient_bsn, self.policy.own_ura, catalogue.holder_category(self.holder_type)
                               or "", category, context.client_ura,
                               catalogue.requester_category(context.client_type) or "", context.purpose)

    def _permitted(self, context: AccessContext, category: str, answer: ConsentAnswer) -> ConsentAnswer:
        """``answer`` when it permits; else the :class:`Refusal` (403) that names the data category and the rule."""
        if answer.permit:
            return answer
        question = self._question(context, category)
        raise Refusal(403, f"The patient's consent does not permit this exchange "
                           f"(data category {category or 'unknown'}): {answer.rule[:200]}",
                      rule="consent", context=context,
                      detail=f"consent registry {answer.registry or '-'} denied {category or '-'} for "
                             f"{question.requester_category or '-'} from {question.holder_category or '-'}: "
                             f"{answer.rule[:200]}")

    def _covered_categories(self, decision: Decision) -> set[str]:
        """The data categories of the compartment types the decision lets a request return."""
        return {category for res_type in decision.types or () if res_type != "Patient"
                if (category := catalogue.data_category(res_type)) is not None}

    def _data_categories(self, asked: PolicyRequest, decision: Decision) -> set[str]:
        """The data categories of the compartment types a request can return (its own, and those it includes)
        or reads to select them (those its chains and ``_has`` parameters search in)."""
        types = set(asked.types or ((asked.res_type,) if asked.res_type else ()))
        searched = {found for name in asked.params for found in self.policy.searched_types(tuple(sorted(types)), name)}
        visible = (decision.types or frozenset()) | decision.referenced_types
        for include in asked.includes:
            kind, _, value = include.partition("=")
            source, _, rest = value.removesuffix(":iterate").partition(":")
            code, _, target = rest.partition(":")
            if kind == "_revinclude":
                types.add(source)
                continue
            definition = self.model.search_parameter(source, code)
            types.update({target} if target else set(definition.target) if definition is not None else set())
        categories: set[str] = set()
        for res_type in (types & visible if decision.types is not None else types) | searched:
            if res_type in self.policy.compartment and res_type != "Patient":
                categories.add(catalogue.data_category(res_type) or "")
        return categories

    def _trusted(self, ura: str) -> bool:
        if ura and ura == self.policy.own_ura:
            return True
        return self.trust is not None and self.trust.organisation(ura) is not None

    def patient_ids(self, session: Session, context: AccessContext) -> tuple[str, ...]:
        """This node's Patient ids of the person the context is bound to (by BSN, cached briefly)."""
        if not context.patient_bsn:
            return tuple(sorted(context.patient_ids))
        now = time.monotonic()
        cached = self._patients.get(context.patient_bsn)
        if cached is not None and now < cached[1]:
            return cached[0]
        query = parse_search(self.model, "Patient", [("identifier", f"{BSN}|{context.patient_bsn}"),
                                                      ("_count", "100"), ("_total", "none")])
        ids = tuple(sorted(row.res_id for row in session.search(query).matches))
        if len(self._patients) >= MAX_CACHED_PATIENTS:
            self._patients.clear()
        self._patients[context.patient_bsn] = (ids, now + PATIENT_TTL_S)
        return ids

    def export_patients(self, session: Session, context: AccessContext | None) -> tuple[str, ...] | None:
        """The Patients an export by ``context`` is limited to: the bound patient's; None when not bound."""
        return self.patient_ids(session, context) if context is not None and context.patient_bound else None

    def in_compartment(self, session: Session, res_type: str, ids: Iterable[str], patient_id: str) -> set[str]:
        """Those of ``ids`` (of ``res_type``) that are in the compartment of ``Patient/patient_id``."""
        found: set[str] = set()
        listed = sorted(set(ids))
        for start in range(0, len(listed), ID_CHUNK):
            chunk = listed[start : start + ID_CHUNK]
            params = [("_id", ",".join(chunk)), ("_count", str(len(chunk))), ("_total", "none")]
            query = parse_search(self.model, res_type, params, compartment=("Patient", patient_id))
            found.update(row.res_id for row in session.search(query).matches)
        return found

    def local_reference(self, reference: str) -> tuple[str, str] | None:
        """``(type, id)`` of a reference to a resource on this node (relative, or absolute on its base)."""
        match = _LOCAL_REFERENCE.match(reference.removeprefix(self.base_url + "/"))
        if match is None or match.group(1) not in self.model.resource_types:
            return None
        return match.group(1), match.group(2)


@dataclass
class Grant:
    """A permitted request: its context, the decision, and the checks its obligations ask for."""

    enforcer: Enforcer
    context: AccessContext
    decision: Decision
    consent: ConsentAnswer | None = None  # the consent registry's permit, when the decision needed consent
    _patient_ids: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def patient_bound(self) -> bool:
        return p.PATIENT_COMPARTMENT in self.decision.obligations

    def patient_ids(self, session: Session) -> tuple[str, ...]:
        if self._patient_ids is None:
            self._patient_ids = self.enforcer.patient_ids(session, self.context)
        return self._patient_ids

    def refuse(self, reason: str, detail: str, rule: str = "") -> Refusal:
        return Refusal(403, reason, rule=rule or self.decision.rule, detail=detail, context=self.context)

    # -- instances -------------------------------------------------------------------------------

    def check_instance(self, session: Session, res_type: str, res_id: str) -> None:
        """A read, vread or history of one resource: refused (403) when it lies outside what the token may see."""
        if self.patient_bound and not self._visible_to_patient(session, res_type, res_id):
            raise self.refuse(OTHER_PATIENT, f"{res_type}/{res_id} is not in the compartment of the token's patient",
                              "patient-binding")
        if p.TASK_SCOPE in self.decision.obligations:
            if f"{res_type}/{res_id}" not in self._task_scope(session):
                raise self.refuse("This token is bound to a Task that does not refer to this resource",
                                  f"{res_type}/{res_id} is outside Task/{self.context.task}", "task-binding")

    def _visible_to_patient(self, session: Session, res_type: str, res_id: str) -> bool:
        ids = self.patient_ids(session)
        if res_type in self.enforcer.policy.compartment:
            if res_type == "Patient" and res_id in ids:
                return True
            return any(self.enforcer.in_compartment(session, res_type, [res_id], pid) for pid in ids)
        stored = session.read(res_type, res_id)  # a referenced type: visible unless it is about someone else
        return stored is None or stored.content is None or not self._mentions_other_patient(stored.content, ids)

    def _mentions_other_patient(self, content: bytes, ids: tuple[str, ...]) -> bool:
        local = ("", self.enforcer.base_url + "/")
        return any(prefix.decode() in local and pid.decode() not in ids
                   for prefix, pid in _PATIENT_REFERENCE.findall(content))

    def _task_scope(self, session: Session) -> set[str]:
        """``Type/id`` of the bound Task and of what the sender made it refer to (and what its Compositions and
        Lists list)."""
        task = session.read("Task", self.context.task)
        if task is None or task.content is None:
            return set()
        resource = task.json()
        if _organisation_ura(self.enforcer, session, resource.get("owner")) != self.context.client_ura:
            raise self.refuse("The Task this token is bound to is not addressed to your organisation",
                              f"Task/{self.context.task} owner is not {self.context.client_ura}", "task-binding")
        scope = {f"Task/{self.context.task}"}
        sent = {name: value for name, value in resource.items() if name not in TASK_STATUS_ELEMENTS | {"meta"}}
        for res_type, res_id in self._references(sent):  # what the sender wrote: the receiver's own writes
            # (TASK_STATUS_ELEMENTS, and meta) refer to nothing the token may read
            scope.add(f"{res_type}/{res_id}")
            if res_type in ("Composition", "List"):
                listed = session.read(res_type, res_id)
                if listed is not None and listed.content is not None:
                    scope.update(f"{t}/{i}" for t, i in self._references(listed.json()))
        return scope

    def _references(self, node: Any) -> Iterable[tuple[str, str]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str):
                    local = self.enforcer.local_reference(value)
                    if local is not None:
                        yield local
                else:
                    yield from self._references(value)
        elif isinstance(node, list):
            for item in node:
                yield from self._references(item)

    # -- searches and history -------------------------------------------------------------------

    def compartment(self, session: Session, named: str | None) -> tuple[str, str] | None:
        """The Patient compartment a search or history runs in: ``named`` (``Patient/[id]/...``) or the bound one.

        A person without a record here has an empty compartment (``Patient/`` with an empty id, which
        no resource has). Several records with the same BSN are refused: a compartment has one Patient.
        """
        if not self.patient_bound:
            return ("Patient", named) if named is not None else None
        ids = self.patient_ids(session)
        if named is not None and named not in ids:
            raise self.refuse(OTHER_PATIENT, f"Patient/{named} is not the token's patient", "patient-binding")
        if named is not None:
            return ("Patient", named)
        if len(ids) > 1:
            raise FhirError(409, "Several Patient records here carry the token's BSN; the data holder must merge "
                                 "them before they can be searched", "conflict")
        return ("Patient", ids[0] if ids else "")

    def check_search(self, session: Session, res_type: str | None, params: list[tuple[str, str]]) -> None:
        """Refuse a patient-bound search whose criteria select another patient than the bound one.

        For a person without a record here only the patients a search names are refused: its
        compartment is empty, so whatever else it asks finds nothing.
        """
        if not self.patient_bound or res_type is None:
            return
        ids = self.patient_ids(session)
        criteria, named = _patient_criteria(self.enforcer, res_type, params)
        strangers = sorted(named - set(ids))
        if strangers:
            raise self.refuse(OTHER_PATIENT, f"the search names Patient/{strangers[0]}", "patient-binding")
        if criteria and ids and not any(self._patient_matches(session, criteria, pid) for pid in ids):
            raise self.refuse(OTHER_PATIENT, "the search's criteria on Patient do not select the token's patient",
                              "patient-binding")

    def _patient_matches(self, session: Session, criteria: list[tuple[str, str]], patient_id: str) -> bool:
        params = [*criteria, ("_count", "1"), ("_total", "none")]
        try:
            query = parse_search(self.enforcer.model, "Patient", params, compartment=("Patient", patient_id))
        except SearchError as error:
            raise FhirError(error.status, error.message, error.code) from error
        return bool(session.search(query).matches)

    def included_filter(self, session: Session) -> Callable[[list[Row]], list[Row]] | None:
        """What keeps ``_include``/``_revinclude`` results within the grant; None when nothing needs keeping."""
        visible, referenced = self.decision.types, self.decision.referenced_types
        if visible is None and not self.patient_bound and not self.context.scopes:
            return None

        def admit(rows: list[Row]) -> list[Row]:
            allowed = [row for row in rows if self._type_visible(row.res_type, visible, referenced)]
            if not self.patient_bound:
                return allowed
            return self._within_compartment(session, allowed)

        return admit

    def _type_visible(self, res_type: str, visible: frozenset[str] | None, referenced: frozenset[str]) -> bool:
        if visible is not None and res_type not in visible and res_type not in referenced:
            return False
        return not self.context.scopes or scopes.permits(self.context.scopes, res_type, "r")

    def _within_compartment(self, session: Session, rows: list[Row]) -> list[Row]:
        ids = self.patient_ids(session)
        compartment = self.enforcer.policy.compartment
        members: set[tuple[str, str]] = set()
        for res_type in {row.res_type for row in rows if row.res_type in compartment}:
            candidates = [row.res_id for row in rows if row.res_type == res_type]
            members.update((res_type, i) for i in candidates if res_type == "Patient" and i in ids)
            for pid in ids:
                members.update((res_type, i) for i in self.enforcer.in_compartment(session, res_type, candidates, pid))
        return [
            row for row in rows
            if (row.res_type, row.res_id) in members
            or (row.res_type not in compartment and not self._mentions_other_patient(row.content, ids))
        ]

    # -- writes -----------------------------------------------------------------------------------

    def check_write(self, session: Session, resource: Any, res_type: str, res_id: str | None) -> None:
        """A create, update or delete: the new resource (``resource``) and the stored one belong to the caller;
        under task scope, an update of the bound Task's status only (:meth:`_check_task_status`)."""
        if p.TASK_SCOPE in self.decision.obligations:
            self._check_task_status(session, resource, res_type, res_id)
            return
        if p.OWN_ORGANISATION not in self.decision.obligations:
            return
        ura = self.context.client_ura
        if resource is not None and _owner(self.enforcer, session, resource) != ura:
            raise self.refuse(f"Only resources of your own organisation ({ura}) may be written here",
                              f"the {res_type} written does not belong to {ura}", "own-organisation")
        stored = session.read(res_type, res_id, for_update=True) if res_id is not None else None
        if stored is not None and stored.content is not None and _owner(self.enforcer, session, stored.json()) != ura:
            raise self.refuse(f"Only resources of your own organisation ({ura}) may be written here",
                              f"{res_type}/{res_id} belongs to another organisation", "own-organisation")

    def _check_task_status(self, session: Session, resource: Any, res_type: str, res_id: str | None) -> None:
        """The eOverdracht receiver moves the Task its token is bound to along :data:`TASK_TRANSITIONS`, changing
        nothing but :data:`TASK_STATUS_ELEMENTS`; anything else is a 403 (a transition the Task's status does not
        allow: a 409), and nothing is written."""
        if res_type != "Task" or res_id != self.context.task or not isinstance(resource, dict):
            raise self.refuse("This token is bound to another Task", f"{res_type}/{res_id} is not "
                              f"Task/{self.context.task}", "task-binding")
        stored = session.read("Task", res_id, for_update=True)
        if stored is None or stored.content is None:
            raise self.refuse("This token is bound to a Task that does not exist here",
                              f"Task/{res_id} does not exist", "task-binding")
        before = stored.json()
        if _organisation_ura(self.enforcer, session, before.get("owner")) != self.context.client_ura:
            raise self.refuse("The Task this token is bound to is not addressed to your organisation",
                              f"Task/{res_id} owner is not {self.context.client_ura}", "task-binding")
        changed = sorted(name for name in {*before, *resource} - TASK_STATUS_ELEMENTS - {"meta", "id"}
                         if before.get(name) != resource.get(name))
        if changed:
            raise self.refuse(f"Only the status of the Task may be changed ({', '.join(sorted(TASK_STATUS_ELEMENTS))})",
                              f"Task/{res_id}: the update changes {', '.join(changed)}", "task-status")
        old, new = before.get("status"), resource.get("status")
        if str(old) not in TASK_TRANSITIONS or (new != old and new not in TASK_TRANSITIONS[str(old)]):
            raise FhirError(409, f"A Task with status '{old}' cannot move to '{new}'", "business-rule")


def job_owner(context: AccessContext | None) -> str:
    """Who may follow a bulk export job: a digest of the caller (client, kind, patient), "" for open access."""
    if context is None or context.kind in (p.OPEN, p.OPERATOR):
        return ""
    caller = "\n".join((context.kind, context.client_ura, context.patient_bsn, *sorted(context.patient_ids)))
    return hashlib.sha256(caller.encode()).hexdigest()


def _patient_criteria(
    enforcer: Enforcer, res_type: str, params: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], set[str]]:
    """The criteria a search puts on Patients (as Patient search parameters), and the Patient ids it names."""
    criteria: list[tuple[str, str]] = []
    named: set[str] = set()
    for name, value in params:
        if name.split(":", 1)[0].split(".", 1)[0] in _NOT_PATIENT_CRITERIA:
            continue
        if res_type == "Patient":
            criteria.append((name, value))
            continue
        reference, _, chain = name.partition(".")
        code, _, modifier = reference.partition(":")
        definition = enforcer.model.search_parameter(res_type, code)
        if definition is None or definition.type != "reference" or modifier == "missing":
            continue
        if modifier not in ("", "Patient", "identifier") or (modifier == "" and "Patient" not in definition.target):
            continue
        if chain:
            criteria.append((chain, value))
        elif modifier == "identifier":
            criteria.append(("identifier", value))
        else:
            named.update(_patient_ids_in(enforcer, value))
    return criteria, named


def _patient_ids_in(enforcer: Enforcer, value: str) -> set[str]:
    """The Patient ids a reference parameter's value names; a bare id counts as a Patient's."""
    ids: set[str] = set()
    for item in (part.strip() for part in value.split(",")):
        local = enforcer.local_reference(item)
        if local is None and item:
            ids.add(item)
        elif local is not None and local[0] == "Patient":
            ids.add(local[1])
    return ids


def _owner(enforcer: Enforcer, session: Session, resource: Any) -> str:
    """The URA of the organisation a directory resource or Task belongs to; "" when it names none."""
    if not isinstance(resource, dict):
        return ""
    res_type = resource.get("resourceType", "")
    if res_type == "Organization":
        own = _ura_identifier(resource.get("identifier"))
        if own:
            return own
    element = p.OWNER_ELEMENTS.get(res_type)
    return _organisation_ura(enforcer, session, resource.get(element)) if element else ""


def _organisation_ura(enforcer: Enforcer, session: Session, reference: Any, depth: int = 0) -> str:
    """The URA a reference names: by identifier, or through the Organization (or PractitionerRole) it points to."""
    if not isinstance(reference, dict) or depth > 3:
        return ""
    ura = _ura_identifier([reference.get("identifier")])
    if ura or not isinstance(reference.get("reference"), str):
        return ura
    local = enforcer.local_reference(reference["reference"])
    if local is None or local[0] not in ("Organization", "PractitionerRole"):
        return ""
    stored = session.read(*local)
    if stored is None or stored.content is None:
        return ""
    target = orjson.loads(stored.content)
    if local[0] == "PractitionerRole":
        return _organisation_ura(enforcer, session, target.get("organization"), depth + 1)
    return _ura_identifier(target.get("identifier")) or _organisation_ura(
        enforcer, session, target.get("partOf"), depth + 1)


def _ura_identifier(identifiers: Any) -> str:
    for identifier in identifiers or ():
        if isinstance(identifier, dict) and identifier.get("system") == URA:
            value = identifier.get("value")
            if isinstance(value, str):
                return value
    return ""
