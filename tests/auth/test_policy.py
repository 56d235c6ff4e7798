"""The policy table, rule by rule: what each use case permits, and a refusal for every condition it sets.

Pure decisions on AccessContexts built here: no node, no tokens (the security suite tests those end to end).
"""

from __future__ import annotations

import pytest

from samen.auth import policy as p
from samen.auth.context import AccessContext, Professional
from samen.auth.policy import Policy, PolicyRequest
from samen.fhir.model import Model

OWN_URA = "11111111"
CLIENT_URA = "22222222"
BSN = "999911120"


@pytest.fixture(scope="module")
def policy(model: Model) -> Policy:
    return Policy(model, own_ura=OWN_URA)


def system(purpose: str, scopes: str, *, client_type: str = "V4", role: str | None = "01.015",
           bsn: str = BSN, task: str = "", ura: str = CLIENT_URA) -> AccessContext:
    professional = Professional("900000001", role, ura, "Dr. Test") if role else None
    return AccessContext("system", frozenset(scopes.split()), client_ura=ura, client_type=client_type,
                         professional=professional, purpose=purpose, patient_bsn=bsn, task=task)


def citizen(scopes: str = "patient/*.rs") -> AccessContext:
    return AccessContext("patient", frozenset(scopes.split()), client_ura="pgo", purpose="patient-self",
                         patient_bsn=BSN)


def search(res_type: str | None, *params: str, includes: tuple[str, ...] = (), types: tuple[str, ...] = ()
           ) -> PolicyRequest:
    return PolicyRequest("search", res_type, params=params, includes=includes, types=types)


def read(res_type: str) -> PolicyRequest:
    return PolicyRequest("read", res_type, instance=True)


BGZ = system(p.BGZ, "system/*.rs")
SENDER = system(p.EOVERDRACHT_SENDER, "system/Task.cu", client_type="T2", role="30.000", bsn="")
RECEIVER = system(p.EOVERDRACHT_RECEIVER, "system/*.r", client_type="R5", role="30.000", bsn="", task="t1")
PHARMACY = system(p.MEDICATION, "system/*.rs", client_type="J8", role="17.075")
DIRECTORY = system(p.DIRECTORY_QUERY, "system/*.rs", client_type="Z3", role=None, bsn="")
UPDATER = system(p.DIRECTORY_UPDATE, "system/*.cud", client_type="Z3", role=None, bsn="")
ADMIN = system(p.ADMINISTRATION, "system/*.cruds", role=None, bsn="", ura=OWN_URA)


@pytest.mark.parametrize(
    ("context", "request_", "rule", "obligations"),
    [
        (BGZ, search("Observation", "code", "_count", "_sort"), "bgz", {p.PATIENT_COMPARTMENT}),
        (BGZ, search("Patient", includes=("_include=Patient:general-practitioner",)), "bgz", {p.PATIENT_COMPARTMENT}),
        (BGZ, search("MedicationStatement", "category", "patient",
                     includes=("_include=MedicationStatement:medication",)),
         "bgz", {p.PATIENT_COMPARTMENT}),
        (BGZ, read("Medication"), "bgz", {p.PATIENT_COMPARTMENT}),
        (BGZ, PolicyRequest("vread", "Condition", instance=True), "bgz", {p.PATIENT_COMPARTMENT}),
        (SENDER, PolicyRequest("create", "Task"), "eoverdracht-sender", {p.OWN_ORGANISATION}),
        (SENDER, PolicyRequest("update", "Task", instance=True), "eoverdracht-sender", {p.OWN_ORGANISATION}),
        (RECEIVER, read("Composition"), "eoverdracht-receiver", {p.TASK_SCOPE}),
        (PHARMACY, search("MedicationRequest", "patient"), "medication-transfer", {p.PATIENT_COMPARTMENT}),
        (system(p.MEDICATION, "system/*.rs", client_type="Z3", role="01.015"), read("MedicationDispense"),
         "medication-transfer", {p.PATIENT_COMPARTMENT}),
        (DIRECTORY, search("Organization", "name", includes=("_include=Organization:endpoint",)), "directory-query",
         set()),
        (DIRECTORY, PolicyRequest("history", "Location"), "directory-query", set()),
        (UPDATER, PolicyRequest("create", "Location"), "directory-update", {p.OWN_ORGANISATION}),
        (UPDATER, PolicyRequest("delete", "Endpoint", instance=True), "directory-update", {p.OWN_ORGANISATION}),
        (citizen(), search("Observation", "code", "_has:Observation:has-member:code"), "patient-self-access",
         {p.PATIENT_COMPARTMENT}),
        (citizen(), PolicyRequest("history"), "patient-self-access", {p.PATIENT_COMPARTMENT}),
        (citizen(), read("Practitioner"), "patient-self-access", {p.PATIENT_COMPARTMENT}),
        (citizen(), PolicyRequest("operation", "Patient", operation="$export", types=("*",)), "patient-self-access",
         {p.PATIENT_COMPARTMENT}),
        (ADMIN, PolicyRequest("conditional-update", "Patient"), "administration", set()),
        (ADMIN, PolicyRequest("operation", None, operation="$export", types=("*",)), "administration", set()),
        (AccessContext("operator", frozenset()), PolicyRequest("delete", "Patient", instance=True), "operator", set()),
        (BGZ, PolicyRequest("operation", "ValueSet", operation="$expand"), "shared-operations", set()),
        (citizen(), PolicyRequest("operation", "Patient", operation="$validate"), "shared-operations", set()),
        (DIRECTORY, PolicyRequest("transaction"), "shared-operations", set()),
    ],
)
def test_permits(policy: Policy, context: AccessContext, request_: PolicyRequest, rule: str,
                 obligations: set[str]) -> None:
    decision = policy.decide(context, request_)
    assert decision.permit, decision.reason
    assert decision.rule == rule
    assert decision.obligations == obligations


@pytest.mark.parametrize(
    ("context", "request_", "reason"),
    [
        # BgZ: organisation type, role, professional, patient, interaction, type, parameters, includes, scopes
        (system(p.BGZ, "system/*.rs", client_type="J8"), read("Condition"), "type 'J8' may not use bgz"),
        (system(p.BGZ, "system/*.rs", role="30.000"), read("Condition"), "role '30.000' may not use bgz"),
        (system(p.BGZ, "system/*.rs", role=None), read("Condition"), "bgz needs the acting professional"),
        (system(p.BGZ, "system/*.rs", bsn=""), read("Condition"), "bgz needs a token bound to a patient"),
        (BGZ, PolicyRequest("create", "Observation"), "bgz does not allow create"),
        (BGZ, read("Task"), "bgz does not allow read on Task"),
        (BGZ, search("Observation", "value-quantity"), "'value-quantity' is not part of bgz"),
        (BGZ, search("Observation", "_has:Observation:has-member:code"), "'_has:Observation:has-member:code' is not"),
        (BGZ, search("Observation", includes=("_include=Observation:performer",)), "is not part of bgz"),
        (BGZ, search("Medication"), "bgz does not allow search on Medication"),
        (BGZ, search(None), "bgz does not allow search across every type"),
        (BGZ, PolicyRequest("history", "Observation"), "bgz does not allow history"),
        (system(p.BGZ, "system/Patient.rs"), search("Observation", "code"), "scopes do not cover"),
        (system(p.BGZ, "system/Observation.r"), search("Observation", "code"), "scopes do not cover"),
        # eOverdracht
        (SENDER, PolicyRequest("create", "Observation"), "does not allow create on Observation"),
        (SENDER, search("Task"), "eoverdracht-sender does not allow search"),
        (SENDER, PolicyRequest("conditional-create", "Task"), "does not allow conditional-create"),
        (system(p.EOVERDRACHT_SENDER, "system/Task.cu", client_type="J8", role="30.000"),
         PolicyRequest("create", "Task"),
         "type 'J8' may not use eoverdracht-sender"),
        (system(p.EOVERDRACHT_SENDER, "system/Task.r", client_type="T2", role="30.000"),
         PolicyRequest("create", "Task"), "scopes do not cover"),
        (system(p.EOVERDRACHT_RECEIVER, "system/*.r", client_type="R5", role="30.000"), read("Task"),
         "needs a token bound to a Task"),
        (RECEIVER, search("Observation"), "eoverdracht-receiver does not allow search"),
        # medication transfer
        (PHARMACY, read("Observation"), "does not allow read on Observation"),
        (system(p.MEDICATION, "system/*.rs", client_type="T2", role="30.000"), read("MedicationRequest"),
         "type 'T2' may not use medication-transfer"),
        (system(p.MEDICATION, "system/*.rs", client_type="J8", role="30.000"), read("MedicationRequest"),
         "role '30.000' may not use medication-transfer"),
        # directory
        (DIRECTORY, read("Patient"), "does not allow read on Patient"),
        (DIRECTORY, search("Practitioner", includes=("_revinclude=Observation:performer",)),
         "does not allow including Observation"),
        (DIRECTORY, search("Practitioner", "_has:Observation:performer:subject"), "does not allow _has on Observation"),
        (DIRECTORY, PolicyRequest("history"), "does not allow history across every type"),
        (DIRECTORY, PolicyRequest("create", "Organization"), "directory-query does not allow create"),
        (UPDATER, PolicyRequest("create", "Practitioner"), "does not allow create on Practitioner"),
        (UPDATER, PolicyRequest("patch", "Location", instance=True), "does not allow patch"),
        # patient self-access
        (citizen(), PolicyRequest("create", "Observation"), "does not allow create"),
        (citizen(), search("Medication"), "does not allow search on Medication"),
        (citizen(), PolicyRequest("operation", "Group", instance=True, operation="$export", types=("*",)),
         "export that patient's data only"),
        (citizen(), PolicyRequest("operation", None, operation="$export", types=("*",)), "export that patient's"),
        (citizen("patient/Patient.rs"), search("Observation"), "scopes do not cover"),
        (citizen("patient/Observation.rs"), PolicyRequest("operation", "Patient", operation="$export", types=("*",)),
         "scopes do not cover"),
        # administration, open mode, purposes
        (system(p.ADMINISTRATION, "system/*.cruds", role=None, bsn=""), read("Patient"),
         "only this node's own organisation"),
        (AccessContext("open", frozenset()), read("Patient"), "not in open mode"),
        (system("", "system/*.rs"), read("Patient"), "the token names no purpose of use"),
        (system("research", "system/*.rs"), read("Patient"), "no rule for the purpose of use 'research'"),
        (AccessContext("user", frozenset({"user/*.rs"})), read("Patient"), "no rule permits"),
    ],
)
def test_refusals(policy: Policy, context: AccessContext, request_: PolicyRequest, reason: str) -> None:
    decision = policy.decide(context, request_)
    assert not decision.permit
    assert reason in decision.reason, decision.reason


def test_conditional_writes_need_search_as_well(model: Model) -> None:
    policy = Policy(model, own_ura=OWN_URA)
    admin = system(p.ADMINISTRATION, "system/*.cud", role=None, bsn="", ura=OWN_URA)
    assert policy.decide(admin, PolicyRequest("create", "Patient")).permit
    assert not policy.decide(admin, PolicyRequest("conditional-create", "Patient")).permit
    with_search = system(p.ADMINISTRATION, "system/*.cruds", role=None, bsn="", ura=OWN_URA)
    assert policy.decide(with_search, PolicyRequest("conditional-create", "Patient")).permit


def test_open_mode_permits_everything_only_on_an_open_node(model: Model) -> None:
    open_node = Policy(model, open_mode=True)
    anyone = AccessContext("open", frozenset())
    assert open_node.decide(anyone, PolicyRequest("conditional-delete", "Patient")).rule == "open-mode"
    assert not Policy(model).decide(anyone, read("Patient")).permit


def test_patient_data_exchanges_leave_the_consent_question_to_the_enforcement(policy: Policy) -> None:
    # the decision is cached, so it only says that consent must be asked; the enforcement asks it per request
    assert policy.decide(BGZ, search("Condition")).consent_needed
    assert policy.decide(system(p.MEDICATION, "system/*.rs", role="17.000", client_type="J8"),
                         search("MedicationRequest")).consent_needed
    assert not policy.decide(DIRECTORY, search("Organization")).consent_needed


def test_permits_say_what_may_be_returned(policy: Policy) -> None:
    decision = policy.decide(BGZ, search("Observation", "code"))
    assert decision.types is not None and "Observation" in decision.types and "Task" not in decision.types
    assert "Medication" in decision.referenced_types
    assert policy.decide(DIRECTORY, search("Organization")).types == p.DIRECTORY_TYPES


@pytest.mark.parametrize(
    ("context", "request_", "refused_type"),
    [
        (PHARMACY, search("MedicationRequest", "encounter.reason-code"), "Encounter"),
        (PHARMACY, search("MedicationRequest", "encounter:Encounter.class"), "Encounter"),
        (PHARMACY, search("MedicationDispense", "prescription.encounter.class"), "Encounter"),  # the second link
        (PHARMACY, search("MedicationDispense", "destination.name"), "Location"),
        (PHARMACY, search(None, "encounter.class", types=("MedicationRequest",)), "Encounter"),
        (DIRECTORY, search("Location", "organization._has:Observation:performer:code"), "Observation"),
    ],
)
def test_a_chain_into_a_type_the_rule_does_not_allow_is_refused(policy: Policy, context: AccessContext,
                                                                request_: PolicyRequest, refused_type: str) -> None:
    decision = policy.decide(context, request_)
    assert not decision.permit
    assert f"does not allow a chain into {refused_type}" in decision.reason, decision.reason


@pytest.mark.parametrize(
    ("context", "request_", "rule"),
    [
        (PHARMACY, search("MedicationRequest", "medication.code"), "medication-transfer"),  # a referenced type
        (PHARMACY, search("MedicationRequest", "requester:Practitioner.name"), "medication-transfer"),
        (PHARMACY, search("MedicationDispense", "prescription.status"), "medication-transfer"),
        (BGZ, search("Observation", "subject:Patient.identifier", "code"), "bgz"),
        (DIRECTORY, search("Location", "organization.name"), "directory-query"),
    ],
)
def test_a_chain_within_the_rule_is_permitted(policy: Policy, context: AccessContext, request_: PolicyRequest,
                                              rule: str) -> None:
    decision = policy.decide(context, request_)
    assert decision.permit, decision.reason
    assert decision.rule == rule


def test_a_role_removes_rules_it_does_not_serve(model: Model) -> None:
    policy = Policy(model, own_ura=OWN_URA)
    assert policy.decide(BGZ, read("Condition")).permit  # cached before the removal: forgotten with it
    policy.remove_rules({"bgz", "medication-transfer"})
    assert {rule.name for rule in policy.rules} == {rule.name for rule in p.RULES} - {"bgz", "medication-transfer"}
    assert not policy.decide(BGZ, read("Condition")).permit
    assert not policy.decide(PHARMACY, read("MedicationRequest")).permit
    assert policy.decide(DIRECTORY, search("Organization")).permit
    policy.remove_rules({"bgz"})  # another role of the node removed it already: nothing changes
    assert len(policy.rules) == len(p.RULES) - 2
