"""Syntax checks of the code systems the node does not carry: good and bad codes for each."""

from __future__ import annotations

import pytest

from samen.fhir.terminology import Terminology
from samen.fhir.terminology.external import external_system
from samen.fhir.terminology.ucum import ucum_problem

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"
HPK = "urn:oid:2.16.840.1.113883.2.4.4.7"
ZI = "urn:oid:2.16.840.1.113883.2.4.4.8"
PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
SSK = "urn:oid:2.16.840.1.113883.2.4.4.1.725"
SNK = "urn:oid:2.16.840.1.113883.2.4.4.1.750"
CONTRA_INDICATIONS = "urn:oid:2.16.840.1.113883.2.4.4.1.902.40"  # G-Standaard thesaurus 40

GOOD = [
    (SNOMED, "71388002"),  # procedure
    (SNOMED, "195967001"),  # asthma
    (SNOMED, "11721000146100"),  # Dutch extension: long-form concept id (partition 10)
    (SNOMED, "404684003 |Clinical finding| : 363698007 |Finding site| = 24028007 |Right|"),  # an expression
    (LOINC, "8867-4"),
    (LOINC, "85354-9"),
    (LOINC, "2339-0"),
    (LOINC, "LA6576-8"),
    (GPK, "71587"),  # from the Nictiz zib2020 examples: GPK without leading zeros
    (GPK, "89907"),
    (GPK, "00002194"),
    (HPK, "12345679"),
    (ZI, "14500019"),
    (PRK, "12345679"),
    (SSK, "12345679"),
    (SNK, "1234"),
    (CONTRA_INDICATIONS, "12"),
    ("https://www.gs1.org/gtin", "4006381333931"),
    ("http://www.whocc.no/atc", "N02BE01"),
    ("http://www.whocc.no/atc", "N02"),
    ("http://hl7.org/fhir/sid/icd-10-nl", "J45.9"),
    ("urn:iso:std:iso:3166", "NL"),
    ("urn:oid:1.0.639.1", "nl"),
    ("urn:ietf:bcp:47", "nl-NL"),
    ("urn:ietf:bcp:13", "application/fhir+json"),
]

BAD = [
    (SNOMED, "71388003", "check digit"),
    (SNOMED, "071388002", "not starting with 0"),
    (SNOMED, "12345", "6 to 18 digits"),
    (SNOMED, "123456017", "description or relationship id"),  # right check digit, partition 01
    (SNOMED, "asthma", "6 to 18 digits"),
    (SNOMED, "404684003 : 363698007 = 24028008", "'24028008' has a wrong SNOMED CT check digit"),
    (SNOMED, "2229800\u0666", "6 to 18 digits"),  # digits of other scripts are no SNOMED CT digits
    (SNOMED, "404684003 : 363698007 = 2402800\u0668", "'2402800'"),
    (LOINC, "8867-5", "check digit"),
    (LOINC, "\u0668\u0668\u0666\u0667-\u0664", "not a LOINC code"),
    (LOINC, "8867", "not a LOINC code"),
    (LOINC, "LX1234-5", "not a LOINC code"),
    (GPK, "71588", "check digit"),
    (GPK, "123456789", "at most 8 digits"),
    (GPK, "1000002", "check digit"),  # would need the check digit 10, which is never issued
    (HPK, "12345678", "check digit"),
    (ZI, "14500018", "check digit"),
    (PRK, "ABC", "at most 8 digits"),
    (SSK, "12345670", "check digit"),
    (SNK, "1234567", "at most 6 digits"),
    (CONTRA_INDICATIONS, "1234567", "at most 6 digits"),
    ("https://www.gs1.org/gtin", "4006381333932", "check digit"),
    ("https://www.gs1.org/gtin", "123", "8, 12, 13 or 14 digits"),
    ("http://www.whocc.no/atc", "N02BE1", "not a ATC code"),
    ("http://hl7.org/fhir/sid/icd-10", "45.9", "not a ICD-10 code"),
    ("urn:iso:std:iso:3166", "nl", "not a ISO 3166 country code"),
    ("urn:ietf:bcp:47", "nl_NL", "not a BCP 47 language tag code"),
    ("urn:ietf:bcp:13", "pdf", "not a media type code"),
]


@pytest.mark.parametrize(("system", "code"), GOOD)
def test_well_formed_codes_pass(system: str, code: str) -> None:
    syntax = external_system(system)
    assert syntax is not None and syntax.check(code) is None


@pytest.mark.parametrize(("system", "code", "problem"), BAD)
def test_malformed_codes_are_named(system: str, code: str, problem: str) -> None:
    syntax = external_system(system)
    assert syntax is not None
    message = syntax.check(code)
    assert message is not None and problem in message


@pytest.mark.parametrize(
    "unit",
    ["mg", "mm[Hg]", "kg/m2", "/min", "10*9/L", "{score}", "mL/min/{1.73_m2}", "s-1", "%", "[in_i]", "1", "g.m-2"],
)
def test_ucum_syntax_accepts(unit: str) -> None:
    assert ucum_problem(unit) is None


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        ("", "cannot be empty"),
        ("mg/", "missing at the end"),
        ("m g", "unexpected ' '"),
        ("(mg", "'(' is not closed"),
        ("mg)", "unexpected ')'"),
        ("{abc", "not closed"),
        ("2mg", "unexpected 'm'"),
        ("m[Hg", "unexpected '['"),
        ("kg//m", "unexpected '/'"),
        ("m+", "not followed by an exponent"),
        ("\u0661\u0660.m", "unexpected '\u0661'"),  # digits of other scripts
    ],
)
def test_ucum_syntax_refuses(unit: str, problem: str) -> None:
    message = ucum_problem(unit)
    assert message is not None and problem in message


def test_unknown_systems_have_no_syntax_rules() -> None:
    assert external_system("http://example.org/codes") is None
    assert external_system("urn:oid:2.16.840.1.113883.2.4.4.99") is None


def test_an_explicit_list_of_external_codes_is_checked_exactly(terminology: Terminology) -> None:
    listed = {
        "resourceType": "ValueSet",
        "url": "http://example.org/ValueSet/laterality",
        "status": "active",
        "compose": {"include": [{"system": SNOMED, "concept": [{"code": "7771000"}, {"code": "24028007"}]}]},
    }
    terminology.conformance.add(listed, "test")
    assert terminology.validate_code(listed["url"], SNOMED, "24028007").valid is True
    outside = terminology.validate_code(listed["url"], SNOMED, "71388002")  # well-formed, not listed
    assert outside.valid is False
    expansion = terminology.expand(listed["url"])["expansion"]
    assert [e["code"] for e in expansion["contains"]] == ["7771000", "24028007"]


def test_ucum_value_sets_check_syntax(terminology: Terminology) -> None:
    units = "http://hl7.org/fhir/ValueSet/ucum-units"  # all of UCUM
    assert terminology.validate_code(units, "http://unitsofmeasure.org", "mm[Hg]").valid is None
    refused = terminology.validate_code(units, "http://unitsofmeasure.org", "mm Hg")
    assert refused.valid is False and "UCUM" in refused.message


def test_implicit_snomed_value_sets(terminology: Terminology) -> None:
    is_a = terminology.validate_code(f"{SNOMED}?fhir_vs=isa/404684003", SNOMED, "195967001")
    assert is_a.valid is None and "is-a 404684003" in is_a.message
    assert terminology.validate_code(f"{SNOMED}?fhir_vs", SNOMED, "195967002").valid is False
    assert terminology.validate_code(f"{LOINC}/vs", LOINC, "8867-4").valid is None
