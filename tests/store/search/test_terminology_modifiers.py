"""Token modifiers that need terminology (``:in``, ``:not-in``, ``:below``, ``:above``), with the real
terminology service over the R4 core, on both engines."""

from __future__ import annotations

import pytest
from search_bed import SNOMED, Bed

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.store.search import MAX_CODES, SearchError, parse_search

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL_VS = "http://hl7.org/fhir/ValueSet/condition-clinical"
ALLERGY_CLINICAL_VS = "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical"


@pytest.fixture(scope="module")
def terminology(conformance: Conformance) -> Terminology:
    return Terminology(conformance)


def condition(res_id: str, system: str | None, code: str | None, subject: str = "Patient/p1") -> dict:
    resource: dict = {"resourceType": "Condition", "id": res_id, "subject": {"reference": subject}}
    if code is not None:
        coding = {"code": code} if system is None else {"system": system, "code": code}
        resource["clinicalStatus"] = {"coding": [coding]}
    return resource


@pytest.fixture
def conditions(bed: Bed) -> Bed:
    """condition-clinical is a hierarchy: active > recurrence, relapse; inactive > remission, resolved."""
    bed.add_all(
        [
            {"resourceType": "Patient", "id": "p1"},
            {"resourceType": "Patient", "id": "p2"},
            condition("active", CLINICAL, "active"),
            condition("relapse", CLINICAL, "relapse"),
            condition("resolved", CLINICAL, "resolved", subject="Patient/p2"),
            condition("allergy-active", ALLERGY_CLINICAL, "active"),  # the same code in another system
            condition("no-system", None, "remission"),
            condition("no-status", None, None),
        ]
    )
    return bed


def test_in_matches_the_codes_of_the_value_set_in_their_own_system(conditions: Bed, terminology: Terminology) -> None:
    found = conditions.ids("Condition", f"clinical-status:in={CONDITION_CLINICAL_VS}", code_sets=terminology)
    assert found == {"active", "relapse", "resolved", "no-system"}  # a code without a system matches by code
    found = conditions.ids("Condition", f"clinical-status:in={ALLERGY_CLINICAL_VS}", code_sets=terminology)
    assert found == {"allergy-active"}


def test_in_with_several_value_sets_is_their_union(conditions: Bed, terminology: Terminology) -> None:
    params = f"clinical-status:in={CONDITION_CLINICAL_VS},{ALLERGY_CLINICAL_VS}"
    assert conditions.ids("Condition", params, code_sets=terminology) == {
        "active", "relapse", "resolved", "allergy-active", "no-system"
    }


def test_not_in_keeps_what_has_no_code_of_the_value_set(conditions: Bed, terminology: Terminology) -> None:
    found = conditions.ids("Condition", f"clinical-status:not-in={CONDITION_CLINICAL_VS}", code_sets=terminology)
    assert found == {"allergy-active", "no-status"}  # like :not, resources without the parameter count


def test_an_empty_value_set_matches_nothing_and_not_in_it_everything(conditions: Bed, terminology: Terminology) -> None:
    empty = "http://hl7.org/fhir/ValueSet/message-events"  # lists no codes in R4
    assert conditions.ids("Condition", f"clinical-status:in={empty}", code_sets=terminology) == set()
    assert len(conditions.ids("Condition", f"clinical-status:not-in={empty}", code_sets=terminology)) == 6


def test_below_and_above_follow_the_code_system_hierarchy(conditions: Bed, terminology: Terminology) -> None:
    def ids(params: str) -> set[str]:
        return conditions.ids("Condition", params, code_sets=terminology)

    assert ids(f"clinical-status:below={CLINICAL}|active") == {"active", "relapse"}
    assert ids(f"clinical-status:below={CLINICAL}|relapse") == {"relapse"}
    assert ids(f"clinical-status:below={CLINICAL}|inactive") == {"resolved", "no-system"}
    assert ids(f"clinical-status:above={CLINICAL}|relapse") == {"active", "relapse"}
    assert ids(f"clinical-status:above={CLINICAL}|active") == {"active"}
    assert ids(f"clinical-status:above={CLINICAL}|resolved") == {"resolved"}
    assert ids(f"clinical-status={CLINICAL}|active") == {"active"}  # plain token search is unchanged


def test_modifiers_work_inside_has_and_chains(conditions: Bed, terminology: Terminology) -> None:
    has = f"_has:Condition:subject:clinical-status:below={CLINICAL}|inactive"
    assert conditions.ids("Patient", has, code_sets=terminology) == {"p1", "p2"}  # resolved (p2), remission (p1)
    has = f"_has:Condition:subject:clinical-status:above={CLINICAL}|resolved"
    assert conditions.ids("Patient", has, code_sets=terminology) == {"p2"}
    conditions.add_all(
        [
            {"resourceType": "Encounter", "id": "e-acute", "status": "finished",
             "class": {"system": ACT_CODE, "code": "ACUTE"}},
            {"resourceType": "Encounter", "id": "e-amb", "status": "finished",
             "class": {"system": ACT_CODE, "code": "AMB"}},
            {**condition("in-hospital", CLINICAL, "active"), "encounter": {"reference": "Encounter/e-acute"}},
            {**condition("at-the-gp", CLINICAL, "active"), "encounter": {"reference": "Encounter/e-amb"}},
        ]
    )
    chain = f"encounter.class:below={ACT_CODE}|IMP"
    assert conditions.ids("Condition", chain, code_sets=terminology) == {"in-hospital"}


def test_below_and_above_over_several_levels_of_v3_act_code(bed: Bed, terminology: Terminology) -> None:
    """_ActEncounterCode > IMP > ACUTE, NONAC; AMB is a sibling of IMP."""
    bed.add_all(
        [
            {"resourceType": "Encounter", "id": code.lower(), "status": "finished",
             "class": {"system": ACT_CODE, "code": code}}
            for code in ("IMP", "ACUTE", "NONAC", "AMB")
        ]
    )
    bed.add({"resourceType": "Encounter", "id": "local", "status": "finished",
             "class": {"system": "http://example.org/encounter-class", "code": "IMP"}})

    def ids(params: str) -> set[str]:
        return bed.ids("Encounter", params, code_sets=terminology)

    assert ids(f"class:below={ACT_CODE}|IMP") == {"imp", "acute", "nonac"}
    assert ids(f"class:below={ACT_CODE}|ACUTE") == {"acute"}
    assert ids(f"class:below={ACT_CODE}|_ActEncounterCode") == {"imp", "acute", "nonac", "amb"}
    assert ids(f"class:above={ACT_CODE}|ACUTE") == {"acute", "imp"}
    assert ids(f"class:above={ACT_CODE}|AMB") == {"amb"}
    assert ids("class:not-in=http://terminology.hl7.org/ValueSet/v3-ActEncounterCode") == {"local"}
    assert ids(f"class:below={ACT_CODE}|IMP&class:above={ACT_CODE}|NONAC") == {"imp", "nonac"}


def test_code_elements_have_no_system_and_match_by_code(bed: Bed, terminology: Terminology) -> None:
    """Procedure.status takes event-status codes; immunization-status lists three of them."""
    statuses = ("completed", "in-progress", "not-done", "stopped")
    bed.add_all(
        [{"resourceType": "Procedure", "id": s, "status": s, "subject": {"reference": "Patient/p"}} for s in statuses]
    )
    bed.add_all([{"resourceType": "Observation", "id": f"o-{s}", "status": s, "code": {"text": "x"}}
                 for s in ("amended", "corrected", "final")])
    immunization_status = "http://hl7.org/fhir/ValueSet/immunization-status"
    assert bed.ids("Procedure", f"status:in={immunization_status}", code_sets=terminology) == {"completed", "not-done"}
    assert bed.ids("Procedure", f"status:not-in={immunization_status}", code_sets=terminology) == {
        "in-progress", "stopped"
    }
    below = "status:below=http://hl7.org/fhir/observation-status|amended"
    assert bed.ids("Observation", below, code_sets=terminology) == {"o-amended", "o-corrected"}


@pytest.mark.parametrize(
    "name, value, code, words",
    [
        ("code:below", f"{SNOMED}|22298006", "not-supported", ["SNOMED CT", "not available on this node"]),
        ("code:above", "http://loinc.org|8867-4", "not-supported", ["LOINC", "not available on this node"]),
        ("code:in", "http://hl7.org/fhir/ValueSet/clinical-findings", "not-supported",
         ["cannot be expanded", "SNOMED CT", "is-a 404684003"]),
        ("code:in", "http://example.org/fhir/ValueSet/nothing-here", "not-found", ["is not known to this node"]),
        ("code:not-in", "http://example.org/fhir/ValueSet/nothing-here", "not-found", ["is not known to this node"]),
        ("code:below", f"{ACT_CODE}|NO-SUCH-CODE", "not-found", ["'NO-SUCH-CODE' is not in the code system"]),
        ("code:below", "http://example.org/cs|x", "not-found", ["code system http://example.org/cs is not known"]),
        ("code:below", "22298006", "invalid", ["system|code"]),
        ("code:above", f"{SNOMED}|", "invalid", ["system|code"]),
        ("code:below", "|22298006", "invalid", ["system|code"]),
    ],
)
def test_what_the_node_cannot_list_is_refused_with_the_reason(
    model: Model, terminology: Terminology, name: str, value: str, code: str, words: list[str]
) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Condition", [(name, value)], code_sets=terminology)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert all(word in raised.value.message for word in words), raised.value.message


def test_more_codes_than_a_search_may_test_are_refused_with_the_count(model: Model, terminology: Terminology) -> None:
    document_types = "http://hl7.org/fhir/ValueSet/c80-doc-typecodes"  # 6,401 LOINC codes
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Composition", [("type:in", document_types)], code_sets=terminology)
    assert (raised.value.status, raised.value.code) == (400, "too-costly")
    assert "6401 codes" in raised.value.message and str(MAX_CODES) in raised.value.message


def test_without_code_sets_the_modifiers_are_refused(model: Model) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Condition", [("clinical-status:in", CONDITION_CLINICAL_VS)])
    assert (raised.value.status, raised.value.code) == (400, "not-supported")
