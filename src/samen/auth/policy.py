"""Who may do what on this node: one table of rules per use case, and the evaluator that applies it.

Deny by default: a request is permitted only when a rule of the table permits it, and every rule names
exactly what it allows (kind of caller, purpose of use, organisation types, professional roles,
interactions, resource types, search parameters, operations). :meth:`Policy.decide` is a pure
function of the :class:`~samen.auth.context.AccessContext` and the :class:`PolicyRequest`, so its
answers can be cached; what needs the data (is this resource in the patient's compartment, is this
Task the token's, does this Organization belong to the caller) is handed to the enforcement as
*obligations* of a permit (:mod:`samen.auth.enforcement` carries them out).

The table is documented in docs/auth.md ("Policy per use case"); keep the two together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache

from samen.auth import scopes
from samen.auth.context import AccessContext
from samen.fhir.model import Model

# -- purposes of use (the ``purpose`` of a token) ------------------------------------------------

BGZ = "bgz"
EOVERDRACHT_SENDER = "eoverdracht-sender"
EOVERDRACHT_RECEIVER = "eoverdracht-receiver"
MEDICATION = "medication-transfer"
DIRECTORY_QUERY = "directory-query"
DIRECTORY_UPDATE = "directory-update"
ADMINISTRATION = "admin"
LOCALIZATION_REGISTER = "localization-register"  # a custodian registers (and deregisters) at the index
LOCALIZATION_SEARCH = "localization-search"  # a requester asks the index where a person's data is
PSEUDONYMISATION = "pseudonymisation"  # an organisation asks the pseudonymiser for a transport token
CONSENT_CHECK = "consent-check"  # a data holder asks the consent registry the closed question
CONSENT_SUBSCRIPTION = "consent-subscription"  # a data holder subscribes to changes of citizens' choices
ACUTE_CARE = "acute-care"  # break-the-glass: acute care without consent, with a stated reason
LOCALIZATION_OBJECTION = "localization-objection"  # the pseudonymiser passes a citizen's objection to the index
PURPOSES = frozenset(
    {BGZ, EOVERDRACHT_SENDER, EOVERDRACHT_RECEIVER, MEDICATION, DIRECTORY_QUERY, DIRECTORY_UPDATE, ADMINISTRATION,
     LOCALIZATION_REGISTER, LOCALIZATION_SEARCH, PSEUDONYMISATION, CONSENT_CHECK, CONSENT_SUBSCRIPTION, ACUTE_CARE,
     LOCALIZATION_OBJECTION}
)

# -- kinds of caller (AccessContext.kind) ------------------------------------------------------

SYSTEM, PATIENT, OPEN = "system", "patient", "open"
OPERATOR = "operator"  # in-process tools of the node's operator (never from a token)

# -- obligations: what the enforcement must check against the data ------------------------------

PATIENT_COMPARTMENT = "patient-compartment"  # only the bound patient's compartment (and allowed referenced types)
TASK_SCOPE = "task-scope"  # only the bound Task and the resources it refers to
OWN_ORGANISATION = "own-organisation"  # written resources (before and after) belong to the caller's URA

# -- organisation types (RoleCodeNL zorgaanbiedertype) and professional roles (UZI role codes) ----

HOSPITALS = frozenset({"V4", "V5", "V6", "BRA", "Z4"})  # ziekenhuis, UMC, algemeen ziekenhuis, brandwonden, ZBC
GP_PRACTICES = frozenset({"Z3", "H1", "K3", "N6"})  # huisartspraktijk, -instelling, apotheekhoudend, huisartsenpost
PHARMACIES = frozenset({"J8", "A1", "K9", "K3"})  # openbare, apotheekinstelling, ziekenhuisapotheek, apotheekhoudend
NURSING_AND_CARE = frozenset({"X3", "M1", "R5", "T2", "H2", "R8", "G6", "IN15"})  # VVT, thuiszorg, hospice, revalidatie
MENTAL_HEALTH = frozenset({"G5"})
# acute care: hospitals with an emergency department (not the ZBC), GP posts (huisartsenpost), ambulance services
ACUTE_CARE_ORGANISATIONS = (HOSPITALS - {"Z4"}) | {"N6", "AMB"}

PHYSICIANS = ("01.", "81.000")  # artsen (every specialism) and physician assistants
NURSE_SPECIALISTS = ("30.065", "30.066", "30.067", "30.068", "30.069", "30.076")
NURSES = ("30.", "86.000")  # verpleegkundigen (every kind) and VIG'ers
PHARMACISTS = ("17.", "83.000")  # apothekers and apothekersassistenten

# -- resource types ---------------------------------------------------------------------------

DIRECTORY_TYPES = frozenset(
    {"Organization", "Location", "HealthcareService", "Endpoint", "Practitioner", "PractitionerRole"}
)
# The organisation a directory resource (or an eOverdracht Task) belongs to: the element naming it.
OWNER_ELEMENTS: Mapping[str, str] = {
    "Organization": "partOf",  # besides its own URA identifier
    "Location": "managingOrganization",
    "HealthcareService": "providedBy",
    "Endpoint": "managingOrganization",
    "PractitionerRole": "organization",
    "Task": "requester",
}
REFERENCED_CARE_TYPES = frozenset({"Medication", "Device", "Practitioner", "PractitionerRole", "Organization"})
MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationDispense", "MedicationStatement", "Patient"})

# The BgZ query set (Nictiz BgZ 2017, in R4 as for zib2020): per type, the search parameters and
# _include values it uses. Parameters that name the patient (the type's compartment parameters)
# and the result parameters are allowed on top of these.
BGZ_QUERIES: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "Patient": (frozenset({"identifier", "_id"}), frozenset({"Patient:general-practitioner"})),
    "Coverage": (frozenset(), frozenset({"Coverage:payor", "Coverage:payor:Patient", "Coverage:payor:Organization"})),
    "Consent": (frozenset({"category", "scope"}), frozenset()),
    "Observation": (
        frozenset({"code", "category", "date"}),
        frozenset({"Observation:has-member", "Observation:derived-from", "Observation:specimen"}),
    ),
    "Specimen": (frozenset(), frozenset()),
    "Condition": (frozenset(), frozenset()),
    "NutritionOrder": (frozenset(), frozenset()),
    "Flag": (frozenset(), frozenset()),
    "AllergyIntolerance": (frozenset(), frozenset()),
    "MedicationStatement": (frozenset({"category"}), frozenset({"MedicationStatement:medication"})),
    "MedicationRequest": (frozenset({"category"}), frozenset({"MedicationRequest:medication"})),
    "MedicationDispense": (frozenset({"category"}), frozenset({"MedicationDispense:medication"})),
    "DeviceUseStatement": (frozenset(), frozenset({"DeviceUseStatement:device"})),
    "Immunization": (frozenset({"status"}), frozenset()),
    "ImmunizationRecommendation": (frozenset(), frozenset()),
    "Procedure": (frozenset({"category"}), frozenset()),
    "Encounter": (frozenset({"class"}), frozenset()),
    "ServiceRequest": (frozenset({"status"}), frozenset()),
    "DeviceRequest": (frozenset({"status"}), frozenset({"DeviceRequest:device"})),
    "Appointment": (frozenset({"status"}), frozenset()),
    "RelatedPerson": (frozenset(), frozenset()),
}
RESULT_PARAMS = frozenset({"_count", "_offset", "_sort", "_total", "_summary", "_elements"})

# -- interactions and the SMART v2 permission each needs ----------------------------------------

READS = frozenset({"read", "vread", "search", "history"})
WRITES = frozenset({"create", "update", "delete"})
CONDITIONAL_WRITES = frozenset({"conditional-create", "conditional-update", "conditional-patch", "conditional-delete"})
TERMINOLOGY_OPERATIONS = frozenset({"$lookup", "$validate-code", "$expand", "$subsumes", "$translate"})
SHARED_OPERATIONS = TERMINOLOGY_OPERATIONS | {"$validate", "$export-status", "$export-file"}
EXPORT = "$export"

_PERMISSIONS = {  # interaction -> SMART v2 permission letters it needs on the resource type
    "read": "r", "vread": "r", "search": "s", "create": "c", "update": "u", "patch": "u", "delete": "d",
    "conditional-create": "cs", "conditional-update": "us", "conditional-patch": "us", "conditional-delete": "ds",
}


@dataclass(frozen=True)
class PolicyRequest:
    """What a request asks for, as far as the policy cares: no values that name a patient, no bodies.

    ``interaction`` is a FHIR interaction (``read``, ``vread``, ``search``, ``history``, ``create``,
    ``update``, ``patch``, ``delete``, their ``conditional-`` forms), ``batch``/``transaction`` for a
    Bundle, or ``operation`` with ``operation`` naming it (``$export``, ``$expand``, ...).
    """

    interaction: str
    res_type: str | None = None  # None: the whole node (system-level search, history, $export)
    instance: bool = False  # about one resource (read, vread, instance history, update, delete)
    params: tuple[str, ...] = ()  # search parameter names as sent (with modifiers and chains)
    includes: tuple[str, ...] = ()  # "_include=Type:param[:Target]" and "_revinclude=..." as sent
    types: tuple[str, ...] = ()  # _type of a system-level search or an export
    operation: str = ""


@dataclass(frozen=True)
class Decision:
    """The answer: ``rule`` names the rule that permitted (or the last that refused), ``reason`` says why.

    ``obligations`` must be met by the enforcement on the data; ``types`` lists the resource types a
    permitted request may return (None: any), ``referenced_types`` those that may appear only as
    referenced from the patient's data. ``consent_needed``: the enforcement must ask the patient's
    consent (:mod:`samen.auth.consent`) on every request; it is not part of the decision, which is
    cached, so that a withdrawal counts from the next request on.
    """

    permit: bool
    rule: str
    reason: str
    obligations: frozenset[str] = frozenset()
    types: frozenset[str] | None = None
    referenced_types: frozenset[str] = frozenset()
    consent_needed: bool = False


@dataclass(frozen=True)
class Rule:
    """One use case. Empty or None fields mean "any"; everything listed is the whole of what is allowed."""

    name: str
    kind: str | None  # AccessContext.kind; None: any authenticated kind
    purposes: frozenset[str] = frozenset()  # the token must name one of these (empty: any, none needed)
    organisation_types: frozenset[str] | None = None  # None: any trusted organisation
    roles: tuple[str, ...] | None = None  # UZI role codes ("01." is a group); None: no professional needed
    interactions: frozenset[str] = frozenset()
    types: frozenset[str] | None = None  # None: any type (for patient-bound rules: any in the compartment)
    referenced_types: frozenset[str] = frozenset()  # outside the compartment: read by id or _include only
    search: Mapping[str, tuple[frozenset[str], frozenset[str]]] | None = None  # type -> (params, includes)
    operations: frozenset[str] = frozenset()
    patient_bound: bool = False
    obligations: frozenset[str] = frozenset()
    consent: bool = False  # the enforcement asks the patient's consent on every request
    own_organisation: bool = False  # the caller must be this node's own organisation

    @property
    def scoped(self) -> bool:
        """Whether the caller holds a token whose SMART scopes must cover the request."""
        return self.kind in (SYSTEM, PATIENT)


RULES: tuple[Rule, ...] = (
    Rule(
        "bgz", SYSTEM, frozenset({BGZ}),
        organisation_types=HOSPITALS | GP_PRACTICES | NURSING_AND_CARE | MENTAL_HEALTH,
        roles=PHYSICIANS + NURSE_SPECIALISTS,
        interactions=frozenset({"read", "vread", "search"}),
        types=frozenset(BGZ_QUERIES), referenced_types=REFERENCED_CARE_TYPES, search=BGZ_QUERIES,
        patient_bound=True, obligations=frozenset({PATIENT_COMPARTMENT}), consent=True,
    ),
    Rule(  # break-the-glass: the BgZ without the consent question, for a stated reason (the token's), audited
        "acute-care", SYSTEM, frozenset({ACUTE_CARE}),
        organisation_types=ACUTE_CARE_ORGANISATIONS,
        roles=PHYSICIANS + NURSES,  # NURSES ("30.") includes the nurse specialists
        interactions=frozenset({"read", "vread", "search"}),
        types=frozenset(BGZ_QUERIES), referenced_types=REFERENCED_CARE_TYPES, search=BGZ_QUERIES,
        patient_bound=True, obligations=frozenset({PATIENT_COMPARTMENT}),
    ),
    Rule(
        "eoverdracht-sender", SYSTEM, frozenset({EOVERDRACHT_SENDER}),
        organisation_types=HOSPITALS | NURSING_AND_CARE | MENTAL_HEALTH,
        roles=NURSES + PHYSICIANS,
        interactions=frozenset({"create", "update"}), types=frozenset({"Task"}),
        obligations=frozenset({OWN_ORGANISATION}),
    ),
    Rule(  # reads the bound Task and what it refers to; updates only that Task's status (the enforcement
        # keeps an update to the bound Task, to status, statusReason, businessStatus and output, and to
        # the transitions of samen.auth.enforcement.TASK_TRANSITIONS)
        "eoverdracht-receiver", SYSTEM, frozenset({EOVERDRACHT_RECEIVER}),
        organisation_types=HOSPITALS | NURSING_AND_CARE | MENTAL_HEALTH | GP_PRACTICES,
        roles=NURSES + PHYSICIANS,
        interactions=frozenset({"read", "vread", "update"}),
        obligations=frozenset({TASK_SCOPE}),
    ),
    Rule(
        "medication-transfer", SYSTEM, frozenset({MEDICATION}),
        organisation_types=PHARMACIES | GP_PRACTICES | HOSPITALS,
        roles=PHYSICIANS + PHARMACISTS,
        interactions=frozenset({"read", "vread", "search"}),
        types=MEDICATION_TYPES | {"MedicationAdministration"}, referenced_types=REFERENCED_CARE_TYPES,
        patient_bound=True, obligations=frozenset({PATIENT_COMPARTMENT}), consent=True,
    ),
    Rule(
        "directory-query", SYSTEM, frozenset({DIRECTORY_QUERY}),
        interactions=READS, types=DIRECTORY_TYPES,
    ),
    Rule(
        "directory-update", SYSTEM, frozenset({DIRECTORY_UPDATE}),
        interactions=WRITES, types=DIRECTORY_TYPES - {"Practitioner"},  # a Practitioner names no owner
        obligations=frozenset({OWN_ORGANISATION}),
    ),
    Rule(
        "patient-self-access", PATIENT,
        interactions=READS, referenced_types=REFERENCED_CARE_TYPES | {"Location", "Substance"},
        operations=frozenset({EXPORT}),
        patient_bound=True, obligations=frozenset({PATIENT_COMPARTMENT}),
    ),
    Rule(
        "administration", SYSTEM, frozenset({ADMINISTRATION}), own_organisation=True,
        interactions=READS | WRITES | CONDITIONAL_WRITES | {"patch"}, operations=frozenset({EXPORT}),
    ),
    Rule("operator", OPERATOR, interactions=READS | WRITES | CONDITIONAL_WRITES | {"patch"},
         operations=frozenset({EXPORT})),
    Rule("open-mode", OPEN, interactions=READS | WRITES | CONDITIONAL_WRITES | {"patch"},
         operations=frozenset({EXPORT})),
    Rule("shared-operations", None, interactions=frozenset({"batch", "transaction"}), operations=SHARED_OPERATIONS),
)
# The requesting side of the BgZ and the medication overview (samen.exchange.operations), added on the nodes whose
# exchange service is installed: this node's own professionals only, with a token bound to the person (so the
# call is audited as an access to that person's data).
EXCHANGE_REQUEST_RULES: tuple[Rule, ...] = (
    Rule(
        "exchange-request", SYSTEM, frozenset({BGZ, MEDICATION}), own_organisation=True,
        roles=PHYSICIANS + NURSE_SPECIALISTS + PHARMACISTS,
        operations=frozenset({"$bgz", "$medication-overview"}), patient_bound=True,
    ),
)

# Rules of the national roles, added by the role's install (Policy.add_rules) on the node that serves it
# only: a List written with purpose localization-register belongs in the index, not in a hospital's store.
LOCALIZATION_INDEX_RULES: tuple[Rule, ...] = (
    Rule(
        "localization-register", SYSTEM, frozenset({LOCALIZATION_REGISTER}),  # the provider checks the custodian
        interactions=frozenset({"create", "read", "delete", "conditional-delete"}), types=frozenset({"List"}),
    ),
    Rule(
        "localization-search", SYSTEM, frozenset({LOCALIZATION_SEARCH}),
        interactions=frozenset({"search", "read"}), types=frozenset({"List"}),
        search={"List": (frozenset({"subject", "code", "custodian"}), frozenset())},
    ),
    Rule("localization-objection", SYSTEM, frozenset({LOCALIZATION_OBJECTION}),  # the operation admits only the
         operations=frozenset({"$objection"})),  # pseudonymiser the index trusts, which acts for the citizen
)
PSEUDONYMISER_RULES: tuple[Rule, ...] = (
    Rule("pseudonymisation", SYSTEM, frozenset({PSEUDONYMISATION}),
         operations=frozenset({"$pseudonymize"})),
    Rule("citizen-objection", PATIENT, operations=frozenset({"$objection"}),  # the citizen's own: the person is
         patient_bound=True),  # the token's, never one named in the request
)
# The consent registry's (samen.consent.registry): the closed question for data holders (the operation checks
# that the caller is a care provider of a catalogue category), their own Subscriptions (the provider keeps
# each holder to its own), and citizens recording their own choices through their PGO (the provider checks
# that a written Consent is the token's patient's; reading them is patient-self-access).
CONSENT_REGISTRY_RULES: tuple[Rule, ...] = (
    Rule("consent-check", SYSTEM, frozenset({CONSENT_CHECK}), operations=frozenset({"$consent-check"})),
    Rule(
        "consent-subscription", SYSTEM, frozenset({CONSENT_SUBSCRIPTION}),
        interactions=frozenset({"create", "read", "search", "update", "delete"}), types=frozenset({"Subscription"}),
    ),
    Rule(
        "consent-self-service", PATIENT, interactions=frozenset({"create", "update", "delete"}),
        types=frozenset({"Consent"}), patient_bound=True,  # the provider keeps the writes in the compartment
    ),
)


class Policy:
    """The rules of this node, evaluated for one context and request at a time (answers cached)."""

    def __init__(
        self,
        model: Model,
        *,
        own_ura: str = "",
        open_mode: bool = False,
        rules: tuple[Rule, ...] = RULES,
    ) -> None:
        """``own_ura``: this node's organisation (for administration); ``open_mode``: ``samen serve --open``."""
        compartment = model.patient_compartment
        self.compartment = {t: frozenset(params) for t, params in compartment.items() if params}
        self.compartment["Patient"] = frozenset(compartment.get("Patient", ())) | {"_id"}
        # the parameters that name a patient (checked against the bound patient by the enforcement)
        self.patient_params = {
            t: params | {code for code, definition in model.search_parameters(t).items()
                         if definition.type == "reference" and "Patient" in definition.target}
            for t, params in self.compartment.items()
        }
        self.model = model
        self.own_ura = own_ura
        self.open_mode = open_mode
        self.rules = rules
        self.decide = lru_cache(maxsize=8192)(self._decide)  # contexts and requests are frozen values

    def add_rules(self, rules: tuple[Rule, ...]) -> None:
        """Permit what a role of this node serves (its install calls this); earlier answers are forgotten."""
        self.rules = (*self.rules, *rules)
        self.decide.cache_clear()

    def remove_rules(self, names: Collection[str]) -> None:
        """Permit no longer what a role's node does not serve (e.g. the BgZ at the consent registry); earlier
        answers are forgotten. A name no rule has is passed over: another role of the node removed it already."""
        self.rules = tuple(rule for rule in self.rules if rule.name not in names)
        self.decide.cache_clear()

    def searched_types(self, types: tuple[str, ...], name: str, depth: int = 0) -> set[str]:
        """The resource types a search parameter on ``types`` selects by: the targets of its chains and the
        sources of its ``_has`` (as the search engine resolves them; an unknown target counts as every type)."""
        if depth > 8:  # deeper than the search engine goes: it refuses the search
            return set()
        if name.startswith("_has:"):
            parts = name.removeprefix("_has:").split(":", 2)
            if len(parts) != 3:
                return set()
            return {parts[0]} | self.searched_types((parts[0],), parts[2], depth + 1)
        head, chained, rest = name.partition(".")
        if not chained:
            return set()
        code, _, of_type = head.partition(":")
        targets = {of_type} if of_type else {
            target for res_type in types if (definition := self.model.search_parameter(res_type, code)) is not None
            for target in definition.target} or set(self.compartment)
        if rest.startswith("_has:"):  # the targets the _has source can refer to
            source, _, param = rest.removeprefix("_has:").partition(":")
            definition = self.model.search_parameter(source, param.split(":", 1)[0])
            if definition is not None and definition.target:
                targets &= set(definition.target)
        elif not rest.startswith("_"):  # the targets that know the next parameter
            next_code = rest.split(".", 1)[0].split(":", 1)[0]
            targets = {t for t in targets if self.model.search_parameter(t, next_code) is not None}
        return targets.union(*(self.searched_types((target,), rest, depth + 1) for target in targets))

    def _decide(self, context: AccessContext, request: PolicyRequest) -> Decision:
        if context.kind == OPEN and not self.open_mode:
            return Decision(False, "open-mode", "this node is not in open mode")
        candidates = [rule for rule in self.rules if rule.kind in (None, context.kind)]
        specific = [rule for rule in candidates if rule.purposes and context.purpose in rule.purposes]
        general = [rule for rule in candidates if not rule.purposes]
        refusals: list[Decision] = []
        for rule in specific + general:
            decision = self._apply(rule, context, request)
            if decision.permit:
                return decision
            refusals.append(decision)
        if specific:
            return refusals[0]
        if context.kind == SYSTEM and not context.purpose:
            return Decision(False, "purpose", "the token names no purpose of use")
        if context.kind == SYSTEM and context.purpose not in PURPOSES:
            return Decision(False, "purpose", f"no rule for the purpose of use '{context.purpose}'")
        if not any(rule.kind == context.kind for rule in candidates):
            return Decision(False, "default", f"no rule permits access of kind '{context.kind}'")
        return refusals[0]

    def _apply(self, rule: Rule, context: AccessContext, request: PolicyRequest) -> Decision:
        refused = self._refusal(rule, context, request)
        if refused:
            return Decision(False, rule.name, refused)
        return Decision(
            True, rule.name, f"permitted by rule {rule.name}", rule.obligations, self._visible_types(rule),
            rule.referenced_types, consent_needed=rule.consent,
        )

    def _refusal(self, rule: Rule, context: AccessContext, request: PolicyRequest) -> str:
        """Why ``rule`` does not permit the request; "" when it does."""
        if rule.own_organisation and (not self.own_ura or context.client_ura != self.own_ura):
            return "only this node's own organisation may use this purpose"
        if rule.organisation_types is not None and context.client_type not in rule.organisation_types:
            return f"organisations of type '{context.client_type or 'unknown'}' may not use {rule.name}"
        if rule.roles is not None:
            professional = context.professional
            if professional is None:
                return f"{rule.name} needs the acting professional"
            if not _role_matches(professional.role, rule.roles):
                return f"professionals with role '{professional.role}' may not use {rule.name}"
        if rule.patient_bound and not context.patient_bound:
            return f"{rule.name} needs a token bound to a patient"
        if TASK_SCOPE in rule.obligations and not context.task:
            return f"{rule.name} needs a token bound to a Task"
        if request.interaction == "operation":
            refused = self._operation_refusal(rule, request)
        else:
            refused = self._interaction_refusal(rule, request)
        if refused:
            return refused
        if rule.scoped and not self._scopes_cover(context, request):
            return "the token's scopes do not cover this request"
        return ""

    def _interaction_refusal(self, rule: Rule, request: PolicyRequest) -> str:
        if request.interaction not in rule.interactions:
            return f"{rule.name} does not allow {request.interaction}"
        if request.interaction in ("batch", "transaction"):
            return ""
        if request.res_type is None:
            return self._system_level_refusal(rule, request)
        res_type = request.res_type
        if not self._type_allowed(rule, res_type):
            if res_type in rule.referenced_types and request.interaction in ("read", "vread"):
                return ""
            return f"{rule.name} does not allow {request.interaction} on {res_type}"
        if request.interaction == "search":
            return self._search_refusal(rule, request, res_type)
        return ""

    def _system_level_refusal(self, rule: Rule, request: PolicyRequest) -> str:
        """A search or history across types: every type it can return must be allowed."""
        if request.interaction == "search" and request.types:
            for res_type in request.types:
                if not self._type_allowed(rule, res_type):
                    return f"{rule.name} does not allow search on {res_type}"
                refused = self._search_refusal(rule, request, res_type)
                if refused:
                    return refused
            return ""
        if rule.types is None and rule.search is None:  # a patient's search stays inside the compartment
            return ""
        return f"{rule.name} does not allow {request.interaction} across every type"

    def _search_refusal(self, rule: Rule, request: PolicyRequest, res_type: str) -> str:
        allowed_params, allowed_includes = (None, None) if rule.search is None else rule.search[res_type]
        patient_params = self.patient_params.get(res_type, frozenset()) if rule.patient_bound else frozenset()
        for name in request.params:
            base = name.split(":", 1)[0].split(".", 1)[0]
            if base in RESULT_PARAMS or base in patient_params:
                continue
            if base == "_has":
                has_type = name.split(":")[1] if name.count(":") >= 2 else ""
                if not self._type_allowed(rule, has_type):
                    return f"{rule.name} does not allow _has on {has_type or 'an unnamed type'}"
            if allowed_params is not None and base not in allowed_params:
                return f"the search parameter '{name}' is not part of {rule.name}"
            for chained in sorted(self.searched_types((res_type,), name)):  # a chain reads the types it passes
                if not self._type_allowed(rule, chained) and chained not in rule.referenced_types:
                    return f"{rule.name} does not allow a chain into {chained} ('{name}')"
        for include in request.includes:
            kind, _, value = include.partition("=")
            value = value.removesuffix(":iterate")
            if allowed_includes is not None and value not in allowed_includes:
                return f"'{include}' is not part of {rule.name}"
            source = value.split(":", 1)[0]
            if kind == "_revinclude" and not self._type_allowed(rule, source):
                return f"{rule.name} does not allow including {source or 'every type'}"
        return ""

    def _operation_refusal(self, rule: Rule, request: PolicyRequest) -> str:
        if request.operation not in rule.operations:
            return f"{rule.name} does not allow {request.operation or 'this operation'}"
        if request.operation == EXPORT and rule.patient_bound and request.res_type != "Patient":
            return "a token bound to a patient may export that patient's data only (Patient/$export)"
        return ""

    def _type_allowed(self, rule: Rule, res_type: str) -> bool:
        if rule.patient_bound and res_type not in self.compartment:
            return False
        return rule.types is None or res_type in rule.types

    def _visible_types(self, rule: Rule) -> frozenset[str] | None:
        if rule.patient_bound:
            return frozenset(t for t in self.compartment if rule.types is None or t in rule.types)
        return rule.types

    def _scopes_cover(self, context: AccessContext, request: PolicyRequest) -> bool:
        """Whether the token's SMART scopes allow the interaction on every type it touches."""
        letters = self._permissions(request)
        if not letters:
            return True
        types = request.types or ((request.res_type,) if request.res_type else ("*",))
        return all(scopes.permits(context.scopes, t, letter) for t in types for letter in letters)

    @staticmethod
    def _permissions(request: PolicyRequest) -> str:
        if request.interaction == "history":
            return "r" if request.instance else "s"
        if request.interaction == "operation":
            return "rs" if request.operation == EXPORT else ""
        return _PERMISSIONS.get(request.interaction, "")


def _role_matches(role: str, allowed: tuple[str, ...]) -> bool:
    return any(role == code or (code.endswith(".") and role.startswith(code)) for code in allowed)
