"""String, token and uri search: modifiers, accents, every token form, ``:missing``, SQL-significant data."""

from __future__ import annotations

import pytest
from search_bed import BSN, LOINC, Bed, observation, patient

from samen.fhir.model import Model
from samen.store.search import SearchError, parse_search

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


@pytest.fixture
def people(bed: Bed) -> Bed:
    bed.add_all(
        [
            patient("sanchez", family="Sánchez", given=["José"]),
            patient("devries", family="de Vries", given=["Jan"]),
            patient("jansen", family="Jansen", given=["Anna", "Maria"]),
            patient("obrien", family="O'Brien", given=["Sean"]),
            patient("percent", family="100% Zeker"),
            patient("underscore", family="Under_score"),
            patient("backslash", family="Back\\slash"),
            patient("comma", family="Smith, Jr"),
            {"resourceType": "Patient", "id": "nameless", "gender": "unknown"},
        ]
    )
    return bed


def test_string_default_is_case_and_accent_insensitive_starts_with(people: Bed) -> None:
    assert people.ids("Patient", "family=sanchez") == {"sanchez"}
    assert people.ids("Patient", "family=SAN") == {"sanchez"}
    assert people.ids("Patient", "family=Sánchez") == {"sanchez"}
    assert people.ids("Patient", "family=SÁNCHEZ") == {"sanchez"}
    assert people.ids("Patient", "name=jose") == {"sanchez"}
    assert people.ids("Patient", "family=anchez") == set()  # not a prefix
    assert people.ids("Patient", "family=de vr") == {"devries"}
    assert people.ids("Patient", "family=de  VRIES") == {"devries"}  # white space collapsed
    assert people.ids("Patient", "given=maria") == {"jansen"}
    assert people.ids("Patient", "name=jan") == {"devries", "jansen"}  # given Jan, family Jansen


def test_string_exact_and_contains(people: Bed) -> None:
    assert people.ids("Patient", "family:exact=Sánchez") == {"sanchez"}
    assert people.ids("Patient", "family:exact=sanchez") == set()
    assert people.ids("Patient", "family:exact=Sanchez") == set()
    assert people.ids("Patient", "family:exact=Sánch") == set()
    assert people.ids("Patient", "family:contains=NCHE") == {"sanchez"}
    assert people.ids("Patient", "family:contains=vries") == {"devries"}
    assert people.ids("Patient", "name:contains=ari") == {"jansen"}


def test_string_or_and_and(people: Bed) -> None:
    assert people.ids("Patient", "family=sanchez,jansen") == {"sanchez", "jansen"}
    assert people.ids("Patient", "name=jan&name=maria") == {"jansen"}
    assert people.ids("Patient", "family=smith\\, jr") == {"comma"}  # an escaped comma is data


def test_sql_significant_characters_are_data(people: Bed) -> None:
    assert people.ids("Patient", "family=o'b") == {"obrien"}
    assert people.ids("Patient", "family=100%") == {"percent"}
    assert people.ids("Patient", "family=100_") == set()  # _ is no wildcard
    assert people.ids("Patient", "family=%") == set()
    assert people.ids("Patient", "family=_") == set()
    assert people.ids("Patient", "family:contains=%") == {"percent"}
    assert people.ids("Patient", "family:contains=_") == {"underscore"}
    assert people.ids("Patient", [("family:contains", "\\")]) == {"backslash"}
    assert people.ids("Patient", [("family", "back\\")]) == {"backslash"}
    for value in ["' OR 1=1 --", "' OR '1'='1", "x'); DROP TABLE resource; --", "%'; --", "\\'", ";", "\"", "*"]:
        for name in ("family", "family:exact", "family:contains", "identifier", "_id", "general-practitioner",
                     "_profile", "_tag", "identifier:text", "organization:identifier"):
            assert people.ids("Patient", [(name, value)]) == set(), (name, value)
    assert len(people.ids("Patient")) == 9  # nothing was dropped


def test_string_missing(people: Bed) -> None:
    assert people.ids("Patient", "family:missing=true") == {"nameless"}
    assert people.ids("Patient", "family:missing=false") == {
        "sanchez", "devries", "jansen", "obrien", "percent", "underscore", "backslash", "comma"
    }
    assert people.ids("Patient", "family:missing=false&family=jan") == {"jansen"}


@pytest.fixture
def identified(bed: Bed) -> Bed:
    bed.add_all(
        [
            patient("p1", identifier=[{"system": BSN, "value": "111"}], gender="female", active=True,
                    telecom=[{"system": "phone", "value": "0612345678"}]),
            patient("p2", identifier=[{"system": "urn:other", "value": "111"}], gender="male", active=False),
            patient("p3", identifier=[{"value": "111"}], gender="female"),
            patient(
                "p4",
                identifier=[{
                    "system": BSN,
                    "value": "222",
                    "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "Burgerservicenummer"},
                }],
                meta={"tag": [{"system": "urn:tags", "code": "vip"}], "security": [{"system": "urn:sec", "code": "R"}],
                      "profile": ["http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient"], "source": "urn:src:a"},
            ),
        ]
    )
    return bed


def test_token_forms(identified: Bed) -> None:
    bed = identified
    assert bed.ids("Patient", "identifier=111") == {"p1", "p2", "p3"}
    assert bed.ids("Patient", f"identifier={BSN}|111") == {"p1"}
    assert bed.ids("Patient", "identifier=|111") == {"p3"}
    assert bed.ids("Patient", f"identifier={BSN}|") == {"p1", "p4"}
    assert bed.ids("Patient", "identifier=urn:other|111,|111") == {"p2", "p3"}
    assert bed.ids("Patient", f"identifier={BSN}|222&identifier=222") == {"p4"}
    assert bed.ids("Patient", "identifier=urn:none|111") == set()
    assert bed.ids("Patient", "gender=female") == {"p1", "p3"}
    assert bed.ids("Patient", "active=true") == {"p1"}
    assert bed.ids("Patient", "active=false") == {"p2"}
    assert bed.ids("Patient", "phone=0612345678") == {"p1"}
    assert bed.ids("Patient", "telecom=phone|0612345678") == {"p1"}


def test_token_not_includes_resources_without_the_value(identified: Bed) -> None:
    assert identified.ids("Patient", "gender:not=female") == {"p2", "p4"}
    assert identified.ids("Patient", "gender:not=female,male") == {"p4"}
    assert identified.ids("Patient", "gender:not=female&identifier=111") == {"p2"}


def test_token_missing(identified: Bed) -> None:
    assert identified.ids("Patient", "active:missing=true") == {"p3", "p4"}
    assert identified.ids("Patient", "active:missing=false") == {"p1", "p2"}
    assert identified.ids("Patient", "gender:missing=true") == {"p4"}


def test_token_of_type_and_text(identified: Bed) -> None:
    assert identified.ids("Patient", f"identifier:of-type={V2_0203}|MR|222") == {"p4"}
    assert identified.ids("Patient", f"identifier:of-type={V2_0203}|MR|111") == set()
    assert identified.ids("Patient", "identifier:text=burger") == {"p4"}
    assert identified.ids("Patient", "identifier:text=nummer") == set()


def test_meta_parameters(identified: Bed) -> None:
    bed = identified
    assert bed.ids("Patient", "_tag=urn:tags|vip") == {"p4"}
    assert bed.ids("Patient", "_tag=vip") == {"p4"}
    assert bed.ids("Patient", "_tag:not=vip") == {"p1", "p2", "p3"}
    assert bed.ids("Patient", "_security=urn:sec|R") == {"p4"}
    assert bed.ids("Patient", "_profile=http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient") == {"p4"}
    assert bed.ids("Patient", "_profile=http://nictiz.nl/fhir/StructureDefinition/nl-core") == set()
    assert bed.ids("Patient", "_profile:below=http://nictiz.nl/fhir/") == {"p4"}
    assert bed.ids("Patient", "_source=urn:src:a") == {"p4"}
    assert bed.ids("Patient", "_id=p1,p3") == {"p1", "p3"}
    assert bed.ids("Patient", "_id:not=p1") == {"p2", "p3", "p4"}
    assert bed.ids("Patient", "_id=nope") == set()


def test_code_text_and_system(bed: Bed) -> None:
    hr = observation("Patient/p", id="hr")
    hr["code"]["coding"][0]["display"] = "Heart rate"
    bed.add_all([hr, observation("Patient/p", code="1234-5", id="other")])
    assert bed.ids("Observation", "code:text=rate") == {"hr"}
    assert bed.ids("Observation", "code:text=HEART") == {"hr"}
    assert bed.ids("Observation", "code:text=eart") == set()
    assert bed.ids("Observation", f"code={LOINC}|8867-4,{LOINC}|1234-5") == {"hr", "other"}


def test_uri_below_and_above(bed: Bed) -> None:
    bed.add_all(
        [
            {"resourceType": "ValueSet", "id": "vs", "status": "active", "url": "http://acme.org/fhir/ValueSet/123"},
            {"resourceType": "ValueSet", "id": "root", "status": "active", "url": "http://acme.org/fhir"},
            {"resourceType": "ValueSet", "id": "elsewhere", "status": "active", "url": "http://other.org/fhir/ValueSet/1"},
        ]
    )
    assert bed.ids("ValueSet", "url=http://acme.org/fhir/ValueSet/123") == {"vs"}
    assert bed.ids("ValueSet", "url=http://acme.org/fhir/ValueSet/12") == set()
    assert bed.ids("ValueSet", "url:below=http://acme.org/fhir") == {"vs", "root"}
    assert bed.ids("ValueSet", "url:below=http://acme.org/fhir/ValueSet/") == {"vs"}
    assert bed.ids("ValueSet", "url:above=http://acme.org/fhir/ValueSet/123/_history/5") == {"vs", "root"}
    assert bed.ids("ValueSet", "url:above=http://acme.org/fhir/CodeSystem/x") == {"root"}
    assert bed.ids("ValueSet", "url:missing=false") == {"vs", "root", "elsewhere"}


@pytest.mark.parametrize(
    "name, value",
    [
        ("gender:exact", "female"),  # a string modifier on a token
        ("family:not", "x"),  # a token modifier on a string
        ("family:missing", "maybe"),
        ("identifier:in", "http://vs"),  # terminology modifiers are not supported
        ("identifier:below", "x"),
        ("identifier:of-type", "MR|222"),
        ("identifier", "|"),
        ("birthdate:exact", "2024"),
        ("_id:exact", "x"),
        ("general-practitioner:Banana", "1"),
        ("_profile:contains", "x"),
    ],
)
def test_bad_modifiers_and_values_are_refused_even_when_lenient(model: Model, name: str, value: str) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Patient", [(name, value)])
    assert raised.value.status == 400
