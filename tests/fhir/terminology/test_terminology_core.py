"""The terminology service on the real R4 core value sets and code systems (v2/v3 included)."""

from __future__ import annotations

import threading
import time

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.outcome import FhirError
from samen.fhir.terminology import Terminology
from samen.fhir.validation.bindings import CodeCheck, CodeValidator

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
OBSERVATION_STATUS_VS = "http://hl7.org/fhir/ValueSet/observation-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CODE_VS = "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"  # is-a _ActEncounterCode, minus itself
PARTICIPANT_TYPE_VS = "http://hl7.org/fhir/ValueSet/encounter-participant-type"  # filter + list + system - exclude
SECURITY_LABELS_VS = "http://hl7.org/fhir/ValueSet/security-labels"  # six imported value sets
CONDITION_CODE_VS = "http://hl7.org/fhir/ValueSet/condition-code"  # SNOMED CT is-a 404684003
DOCUMENT_TYPES_VS = "http://hl7.org/fhir/ValueSet/c80-doc-typecodes"  # 6401 LOINC codes listed one by one


def test_the_service_is_a_code_validator(terminology: Terminology) -> None:
    validator: CodeValidator = terminology
    check = validator.validate_code(GENDER_VS, GENDER, "female")
    assert isinstance(check, CodeCheck) and check.valid is True and check.message == ""


def test_administrative_gender(terminology: Terminology) -> None:
    assert terminology.validate_code(GENDER_VS, GENDER, "unknown").display == "Unknown"
    wrong = terminology.validate_code(GENDER_VS, GENDER, "F")
    assert wrong.valid is False and GENDER_VS in wrong.message
    assert terminology.validate_code(GENDER_VS, "http://example.org/gender", "female").valid is False
    assert terminology.validate_code(GENDER_VS, None, "male").valid is True  # a `code` element has no system


def test_a_display_that_does_not_match_is_a_warning(terminology: Terminology) -> None:
    assert terminology.validate_code(GENDER_VS, GENDER, "female", "  FEMALE ").message == ""
    mismatch = terminology.validate_code(GENDER_VS, GENDER, "female", "Vrouw")
    assert mismatch.valid is True and "'Vrouw'" in mismatch.message and "'Female'" in mismatch.message


def test_observation_status_is_the_whole_code_system(terminology: Terminology) -> None:
    expansion = terminology.expand(OBSERVATION_STATUS_VS)["expansion"]
    assert [e["code"] for e in expansion["contains"]] == [
        "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown",
    ]  # fmt: skip
    assert expansion["total"] == 8
    assert terminology.validate_code(OBSERVATION_STATUS_VS, "http://hl7.org/fhir/observation-status", "final").valid


def test_v3_hierarchy_with_is_a_filter_and_exclude(terminology: Terminology) -> None:
    assert terminology.validate_code(ENCOUNTER_CODE_VS, ACT_CODE, "AMB").valid is True
    assert terminology.validate_code(ENCOUNTER_CODE_VS, ACT_CODE, "IMP").valid is True
    assert terminology.validate_code(ENCOUNTER_CODE_VS, ACT_CODE, "_ActEncounterCode").valid is False  # excluded
    assert terminology.validate_code(ENCOUNTER_CODE_VS, ACT_CODE, "CASH").valid is False  # another branch
    codes = {e["code"] for e in terminology.expand(ENCOUNTER_CODE_VS)["expansion"]["contains"]}
    assert {"AMB", "EMER", "HH", "IMP", "ACUTE", "NONAC"} <= codes and "_ActEncounterCode" not in codes
    lookup = terminology.lookup(ACT_CODE, "IMP")
    assert {"code": "parent", "valueCode": "_ActEncounterCode"} in lookup.properties
    assert {"code": "child", "valueCode": "ACUTE"} in lookup.properties


def test_a_composed_value_set(terminology: Terminology) -> None:
    participation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
    assert terminology.validate_code(PARTICIPANT_TYPE_VS, participation, "ADM").valid is True  # via the filter
    assert terminology.validate_code(PARTICIPANT_TYPE_VS, participation, "PPRF").valid is True  # listed
    assert terminology.validate_code(PARTICIPANT_TYPE_VS, participation, "_ParticipationAncillary").valid is False
    assert terminology.validate_code(PARTICIPANT_TYPE_VS, participation, "AUT").valid is False
    whole = "http://terminology.hl7.org/CodeSystem/participant-type"
    assert terminology.validate_code(PARTICIPANT_TYPE_VS, whole, "translator").valid is True


def test_imported_value_sets(terminology: Terminology) -> None:
    confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    assert terminology.validate_code(SECURITY_LABELS_VS, confidentiality, "R").valid is True
    assert terminology.validate_code(SECURITY_LABELS_VS, confidentiality, "X").valid is False


def test_snomed_by_rule_is_undecided_and_says_why(terminology: Terminology) -> None:
    check = terminology.validate_code(CONDITION_CODE_VS, "http://snomed.info/sct", "195967001")
    assert check.valid is None
    assert "SNOMED CT" in check.message and "not available" in check.message
    assert "only the syntax of the code was checked" in check.message
    broken = terminology.validate_code(CONDITION_CODE_VS, "http://snomed.info/sct", "195967002")
    assert broken.valid is False and "check digit" in broken.message
    assert terminology.validate_code(CONDITION_CODE_VS, "http://loinc.org", "8867-4").valid is False


def test_expanding_snomed_by_rule_is_refused_not_faked(terminology: Terminology) -> None:
    with pytest.raises(FhirError) as raised:
        terminology.expand(CONDITION_CODE_VS)
    assert raised.value.status == 422 and raised.value.issues[0].code == "not-supported"
    assert "SNOMED CT" in raised.value.message and "404684003" in raised.value.message


def test_listed_loinc_codes_are_checked_exactly(terminology: Terminology) -> None:
    assert terminology.validate_code(DOCUMENT_TYPES_VS, "http://loinc.org", "11488-4").valid is True  # consult note
    assert terminology.validate_code(DOCUMENT_TYPES_VS, "http://loinc.org", "8867-4").valid is False  # heart rate


def test_expansion_pages_and_text_filter(terminology: Terminology) -> None:
    first = terminology.expand(DOCUMENT_TYPES_VS, count=10)["expansion"]
    second = terminology.expand(DOCUMENT_TYPES_VS, count=10, offset=10)["expansion"]
    assert first["total"] == second["total"] > 6000
    assert len(first["contains"]) == len(second["contains"]) == 10
    assert not {e["code"] for e in first["contains"]} & {e["code"] for e in second["contains"]}
    assert {"name": "offset", "valueInteger": 10} in second["parameter"]
    consult = terminology.expand(DOCUMENT_TYPES_VS, filter="consult note")["expansion"]
    assert 0 < consult["total"] < 1000
    assert all("consult" in e["display"].lower() for e in consult["contains"])
    assert "contains" not in terminology.expand(DOCUMENT_TYPES_VS, count=0)["expansion"]


def test_a_long_filter_costs_no_more_than_its_distinct_words(terminology: Terminology) -> None:
    """A filter of a POSTed Parameters can be megabytes long: its words are read once, repeats once."""
    terminology.expand(DOCUMENT_TYPES_VS, count=1)
    started = time.perf_counter()
    repeated = terminology.expand(DOCUMENT_TYPES_VS, filter="consult note " * 100_000, count=5)["expansion"]
    distinct = terminology.expand(DOCUMENT_TYPES_VS, filter=" ".join(f"w{n}" for n in range(100_000)))["expansion"]
    assert time.perf_counter() - started < 10
    assert repeated["total"] == terminology.expand(DOCUMENT_TYPES_VS, filter="consult note")["expansion"]["total"]
    assert distinct["total"] == 0


def test_unknown_value_sets_and_code_systems(terminology: Terminology) -> None:
    check = terminology.validate_code("http://example.org/ValueSet/none", "http://example.org", "x")
    assert check.valid is None and "not known" in check.message
    with pytest.raises(FhirError) as raised:
        terminology.expand("http://example.org/ValueSet/none")
    assert raised.value.status == 404
    with pytest.raises(FhirError) as raised:
        terminology.lookup("http://example.org/cs", "x")
    assert raised.value.status == 404


def test_value_sets_are_found_by_id(terminology: Terminology) -> None:
    assert terminology.value_set_by_id("administrative-gender")["url"] == GENDER_VS
    assert terminology.value_set_by_id("v3-ActEncounterCode")["url"] == ENCOUNTER_CODE_VS
    assert terminology.value_set_by_id("no-such-id") is None


def test_code_system_validation(terminology: Terminology) -> None:
    assert terminology.validate_in_code_system(ACT_CODE, [(ACT_CODE, "AMB", None)]).valid is True
    assert terminology.validate_in_code_system(ACT_CODE, [(None, "_ActAccountCode", None)]).valid  # abstract: a code
    assert terminology.validate_in_code_system(ACT_CODE, [(None, "NOPE", None)]).valid is False
    assert terminology.validate_in_code_system(ACT_CODE, [("http://loinc.org", "AMB", None)]).valid is False
    assert terminology.validate_in_code_system("http://loinc.org", [(None, "8867-4", None)]).valid is None


def test_a_codeable_concept_is_valid_when_one_coding_is(terminology: Terminology) -> None:
    loinc, snomed = ("http://loinc.org", "8867-4", None), ("http://snomed.info/sct", "195967001", None)
    gender = (GENDER, "female", None)
    assert terminology.validate_codings(GENDER_VS, [loinc, gender]).valid is True
    assert terminology.validate_codings(CONDITION_CODE_VS, [loinc, snomed]).valid is None
    refused = terminology.validate_codings(GENDER_VS, [loinc, (GENDER, "woman", None)])
    assert refused.valid is False and "8867-4" in refused.message and "woman" in refused.message


def test_concurrent_first_use_gives_one_answer(conformance: Conformance) -> None:
    fresh = Terminology(conformance)
    results: list[bool | None] = []

    def check() -> None:
        results.append(fresh.validate_code(DOCUMENT_TYPES_VS, "http://loinc.org", "11488-4").valid)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
