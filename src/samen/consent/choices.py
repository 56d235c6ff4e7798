"""A citizen's choices: read from Consent resources, compiled into ``consent_choice``, and weighed for a question.

One Consent is one choice: yes (``provision.type`` permit) or no (deny) for one holder category,
optionally narrowed to one data category (``provision.code``) and one requester category (the
``provision.actor`` with role IRCP). ``status`` active counts; inactive (withdrawn) and deleted do not.
The table holds one row per active choice, ``*`` for "any", so the closed question reads at most a
handful of rows through the primary key. Storage only: nothing here knows of HTTP.

Precedence (docs/consent.md): the most specific choice that covers the question decides (a data
category and a requester category each add one level); among choices for the very same combination
the newest counts; between different combinations of equal specificity a no beats a yes. No choice
that covers the question: deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from samen.consent import catalogue
from samen.fhir import outcome
from samen.sample import BSN
from samen.store.db import Conn

ANY = "*"
CUSTODIAN = "CST"  # v3 ParticipationType: the data holder
RECIPIENT = "IRCP"  # v3 ParticipationType: information recipient, the requester
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SCOPE = {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
CATEGORY = {"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}
POLICY_RULE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # OPTIN for a yes, OPTOUT for a no
_PROVISION_ELEMENTS = frozenset({"id", "type", "actor", "code"})  # what a choice is made of


@dataclass(frozen=True)
class Choice:
    """What one active Consent says: yes or no for holder x data x requester ("*": any)."""

    holder: str
    data: str
    requester: str
    permit: bool

    @property
    def specificity(self) -> int:
        return (self.data != ANY) + (self.requester != ANY)

    def describe(self) -> str:
        return f"{'yes' if self.permit else 'no'} for {self.holder} × {self.data} × {self.requester}"


@dataclass(frozen=True)
class Answer:
    permit: bool
    rule: str
    consent_id: str | None


def read_choice(consent: dict[str, Any]) -> Choice:
    """The choice a Consent records; FhirError 422 naming the element when it is no catalogue choice."""
    provision = consent.get("provision")
    if not isinstance(provision, dict) or provision.get("type") not in ("permit", "deny"):
        raise _invalid("provision.type must be 'permit' (yes) or 'deny' (no)", "Consent.provision.type")
    beyond = sorted(set(provision) - _PROVISION_ELEMENTS)
    if beyond:  # a nested exception, a period, a purpose, ...: the compiled choice would permit more
        raise _invalid(f"a choice is a holder category, a data category and a requester category only; "
                       f"provision.{beyond[0]} cannot be recorded", f"Consent.provision.{beyond[0]}")
    rule = _code(consent.get("policyRule"), POLICY_RULE)
    if rule is not None and rule != ("OPTIN" if provision["type"] == "permit" else "OPTOUT"):
        raise _invalid(f"policyRule {rule} contradicts provision.type {provision['type']}", "Consent.policyRule")
    actors: dict[str, str] = {}
    for actor in provision.get("actor") or ():
        role = _code(actor.get("role") if isinstance(actor, dict) else None, PARTICIPATION)
        kind = {CUSTODIAN: "holder", RECIPIENT: "requester"}.get(role or "")
        reference = actor.get("reference") if isinstance(actor, dict) else None
        identifier = reference.get("identifier") if isinstance(reference, dict) else None
        if isinstance(reference, dict) and set(reference) - {"identifier", "display"}:
            raise _invalid("an actor is a category (reference.identifier), not one organisation or person",
                           "Consent.provision.actor.reference")
        if kind is None or not isinstance(identifier, dict) or kind in actors:
            raise _invalid(f"each provision.actor has role {PARTICIPATION}|{CUSTODIAN} (the holder category) or "
                           f"|{RECIPIENT} (the requester category), once each", "Consent.provision.actor")
        if identifier.get("system") != catalogue.system(kind) or not catalogue.is_code(kind, identifier.get("value")):
            raise _invalid(f"the {kind} category must be a code of {catalogue.system(kind)}",
                           "Consent.provision.actor.reference.identifier")
        actors[kind] = identifier["value"]
    if "holder" not in actors:
        raise _invalid("a choice names the category of the data holder (provision.actor with role CST)",
                       "Consent.provision.actor")
    codes = provision.get("code") or []
    if not isinstance(codes, list):
        raise _invalid("provision.code is a list", "Consent.provision.code")
    data = ANY
    if codes:
        data = _code(codes[0], catalogue.DATA_CATEGORY_SYSTEM) if len(codes) == 1 else None
        if data is None or not catalogue.is_code("data", data):
            raise _invalid(f"provision.code is at most one data category of {catalogue.DATA_CATEGORY_SYSTEM}",
                           "Consent.provision.code")
    return Choice(actors["holder"], data, actors.get("requester", ANY), provision["type"] == "permit")


def consent_resource(patient_id: str, bsn: str, choice: Choice, date_time: str, status: str = "active") -> dict[str, Any]:
    """A Consent recording ``choice`` for the Patient ``patient_id`` (the inverse of :func:`read_choice`)."""
    actors = [_actor(CUSTODIAN, "holder", choice.holder)]
    if choice.requester != ANY:
        actors.append(_actor(RECIPIENT, "requester", choice.requester))
    provision: dict[str, Any] = {"type": "permit" if choice.permit else "deny", "actor": actors}
    if choice.data != ANY:
        provision["code"] = [{"coding": [{"system": catalogue.DATA_CATEGORY_SYSTEM, "code": choice.data}]}]
    return {
        "resourceType": "Consent", "status": status, "scope": {"coding": [SCOPE]},
        "category": [{"coding": [CATEGORY]}],
        "patient": {"reference": f"Patient/{patient_id}", "identifier": {"system": BSN, "value": bsn}},
        "dateTime": date_time,
        "policyRule": {"coding": [{"system": POLICY_RULE, "code": "OPTIN" if choice.permit else "OPTOUT"}]},
        "provision": provision,
    }


# -- the compiled table ---------------------------------------------------------------------------


def compile_choice(conn: Conn, consent_id: str, bsn: str | None, choice: Choice | None, updated_ms: int) -> None:
    """Make ``consent_choice`` say what Consent ``consent_id`` now says (None: it no longer counts)."""
    conn.execute("DELETE FROM consent_choice WHERE consent_id = ?", (consent_id,))
    if bsn and choice is not None:
        conn.execute(
            "INSERT INTO consent_choice (bsn, holder_category, data_category, requester_category, consent_id, permit,"
            " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (bsn, choice.holder, choice.data, choice.requester, consent_id, int(choice.permit), updated_ms),
        )


_CANDIDATES = (
    "SELECT data_category, requester_category, consent_id, permit, updated_ms FROM consent_choice "
    "WHERE bsn = ? AND holder_category = ? AND data_category IN (?, '*') AND requester_category IN (?, '*')"
)


def decide(conn: Conn, bsn: str, holder: str, data: str, requester: str) -> Answer:
    """The closed question: may a holder of category ``holder`` release ``data`` of ``bsn`` to ``requester``?"""
    rows = conn.execute(_CANDIDATES, (bsn, holder, data, requester))
    return weigh(holder, rows)


def weigh(holder: str, rows: Sequence[tuple[str, str, str, int, int]]) -> Answer:
    """The deciding row among the candidates (see the module's precedence), or deny by default."""
    newest: dict[tuple[str, str], tuple[str, str, str, int, int]] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in newest or (row[4], row[2]) > (newest[key][4], newest[key][2]):
            newest[key] = row
    if not newest:
        return Answer(False, "no choice recorded: deny by default", None)
    best = max(newest.values(), key=lambda r: ((r[0] != ANY) + (r[1] != ANY), not r[3]))
    choice = Choice(holder, best[0], best[1], bool(best[3]))
    return Answer(choice.permit, f"choice Consent/{best[2]}: {choice.describe()}", best[2])


def _actor(role: str, kind: str, code: str) -> dict[str, Any]:
    display = {c[0]: c[1] for c in getattr(catalogue, f"{kind}_categories")()}[code]
    return {"role": {"coding": [{"system": PARTICIPATION, "code": role}]},
            "reference": {"identifier": {"system": catalogue.system(kind), "value": code}, "display": display}}


def _code(concept: Any, system: str) -> str | None:
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and coding.get("system") == system and isinstance(coding.get("code"), str):
            return coding["code"]
    return None


def _invalid(diagnostics: str, expression: str) -> outcome.FhirError:
    return outcome.unprocessable(f"Not a consent choice: {diagnostics}", [expression])
