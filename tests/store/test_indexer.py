"""Index rows of realistic resources: exactly the rows the search compiler expects, per rows.py."""

from __future__ import annotations

import math
from typing import Any

import pytest

from samen.fhir.model import Model
from samen.fhir.primitives import date_range
from samen.store.indexer import Indexer
from samen.store.rows import DATE_MAX, DATE_MIN, IndexRows

BASE = "https://fhir.samen.example.nl/fhir"
BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
URA = "http://fhir.nl/fhir/NamingSystem/ura"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


@pytest.fixture(scope="module")
def indexer() -> Indexer:
    return Indexer(Model.load(), BASE)


def rows_of(rows: IndexRows, table: str, *params: str) -> set[tuple]:
    """The rows of one table for the given parameters (all when none given), floats rounded to 9 places."""
    return {
        tuple(round(v, 9) if isinstance(v, float) else v for v in row)
        for row in getattr(rows, table)
        if not params or row[0] in params
    }


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient"]},
        "identifier": [
            {
                "system": BSN,
                "value": "999911120",
                "type": {"coding": [{"system": V2_0203, "code": "NNNLD"}], "text": "Burgerservicenummer"},
            }
        ],
        "active": True,
        "name": [
            {"use": "official", "family": "van der Berg-Sánchez", "given": ["Anna", "María"], "prefix": ["van der"]},
        ],
        "telecom": [
            {"system": "phone", "value": "+31612345678", "use": "mobile"},
            {"system": "email", "value": "anna@example.nl"},
        ],
        "gender": "female",
        "birthDate": "1950-04-01",
        "address": [{"line": ["Dorpsstraat 1"], "city": "Utrecht", "postalCode": "3511 AB", "country": "NL"}],
        "generalPractitioner": [{"reference": "Practitioner/gp1", "display": "Dr. Jansen"}],
        "managingOrganization": {"reference": f"{BASE}/Organization/umc"},
    }


def test_patient_identifier_with_of_type_row(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    assert rows_of(rows, "token", "identifier", "identifier:of-type") == {
        ("identifier", 0, BSN, "999911120", "burgerservicenummer"),
        ("identifier:of-type", 0, V2_0203, "NNNLD|999911120", None),
    }


def test_patient_names_are_normalised_with_exact_kept(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    assert rows_of(rows, "string", "family") == {("family", 0, "van der berg-sanchez", "van der Berg-Sánchez")}
    assert rows_of(rows, "string", "given") == {("given", 0, "anna", "Anna"), ("given", 0, "maria", "María")}
    assert rows_of(rows, "string", "name") == {
        ("name", 0, "van der berg-sanchez", "van der Berg-Sánchez"),
        ("name", 0, "anna", "Anna"),
        ("name", 0, "maria", "María"),
        ("name", 0, "van der", "van der"),
    }


def test_patient_address_parts(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    assert rows_of(rows, "string", "address") == {
        ("address", 0, "dorpsstraat 1", "Dorpsstraat 1"),
        ("address", 0, "utrecht", "Utrecht"),
        ("address", 0, "3511 ab", "3511 AB"),
        ("address", 0, "nl", "NL"),
    }
    assert rows_of(rows, "string", "address-city", "address-postalcode") == {
        ("address-city", 0, "utrecht", "Utrecht"),
        ("address-postalcode", 0, "3511 ab", "3511 AB"),
    }


def test_patient_telecom_tokens_carry_the_contact_system(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    assert rows_of(rows, "token", "telecom", "phone", "email") == {
        ("telecom", 0, "phone", "+31612345678", None),
        ("telecom", 0, "email", "anna@example.nl", None),
        ("phone", 0, "phone", "+31612345678", None),
        ("email", 0, "email", "anna@example.nl", None),
    }


def test_patient_primitive_tokens_dates_references_and_uris(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    assert rows_of(rows, "token", "gender", "active", "deceased") == {
        ("gender", 0, None, "female", None),
        ("active", 0, None, "true", None),
        ("deceased", 0, None, "false", None),  # no deceased[x] at all: not deceased
    }
    assert rows_of(rows, "date", "birthdate") == {("birthdate", 0, *date_range("1950-04-01"))}
    assert rows_of(rows, "reference") == {
        ("general-practitioner", 0, "Practitioner", "gp1", None),
        ("organization", 0, "Organization", "umc", None),  # absolute on this node's base: like relative
    }
    assert rows_of(rows, "uri") == {("_profile", 0, "http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient")}


def test_skipped_parameters_give_no_rows(indexer: Indexer) -> None:
    rows = indexer.index(patient())
    params = {row[0] for table in rows.by_table().values() for row in table}
    assert not params & {"_id", "_lastUpdated", "_text", "_content", "_query", "_filter", "_has", "_list"}


def observation() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "bp1",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}],
                 "text": "Bloeddruk"},
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2024-03-05T10:00:00+01:00", "end": "2024-03-05T10:15:00+01:00"},
        "performer": [{"reference": "https://other.example.nl/fhir/Practitioner/pr9/_history/2"}],
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
             "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
             "valueQuantity": {"value": 80.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
        ],
    }


def test_observation_code_text_prefers_the_concept_text(indexer: Indexer) -> None:
    rows = indexer.index(observation())
    assert rows_of(rows, "token", "code", "category") == {
        ("code", 0, LOINC, "85354-9", "bloeddruk"),
        ("category", 0, "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "vital signs"),
    }


def test_observation_effective_period_and_references(indexer: Indexer) -> None:
    rows = indexer.index(observation())
    start = date_range("2024-03-05T10:00:00+01:00")[0]
    end = date_range("2024-03-05T10:15:00+01:00")[1]
    assert rows_of(rows, "date") == {("date", 0, start, end)}
    assert rows_of(rows, "reference", "subject", "patient", "performer") == {
        ("subject", 0, "Patient", "p1", None),
        ("patient", 0, "Patient", "p1", None),
        ("performer", 0, "Practitioner", "pr9", "https://other.example.nl/fhir/Practitioner/pr9"),
    }


def test_observation_components_form_composite_groups(indexer: Indexer) -> None:
    rows = indexer.index(observation())
    sys_bp = ("http://unitsofmeasure.org", "mm[Hg]", "mmHg", 119.5, 120.5)
    dia_bp = ("http://unitsofmeasure.org", "mm[Hg]", "mmHg", 80.45, 80.55)
    assert rows_of(rows, "token", "component-code-value-quantity$0") == {
        ("component-code-value-quantity$0", 1, LOINC, "8480-6", None),
        ("component-code-value-quantity$0", 2, LOINC, "8462-4", None),
    }
    assert rows_of(rows, "quantity", "component-code-value-quantity$1") == {
        ("component-code-value-quantity$1", 1, *sys_bp),
        ("component-code-value-quantity$1", 2, *dia_bp),
    }
    assert rows_of(rows, "quantity", "component-value-quantity") == {
        ("component-value-quantity", 0, *sys_bp),
        ("component-value-quantity", 0, *dia_bp),
    }
    assert rows_of(rows, "token", "component-code") == {
        ("component-code", 0, LOINC, "8480-6", None),
        ("component-code", 0, LOINC, "8462-4", None),
    }


def test_composite_groups_need_every_component(indexer: Indexer) -> None:
    rows = indexer.index(observation())
    params = {row[0] for table in rows.by_table().values() for row in table}
    # no valueCodeableConcept anywhere, and the panel itself has no value
    assert not {p for p in params if p.startswith(("component-code-value-concept", "code-value-"))}
    assert not rows_of(rows, "quantity", "value-quantity")


def test_observation_value_quantity_and_code_value_quantity(indexer: Indexer) -> None:
    glucose = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "15074-8", "display": "Glucose"}]},
        "valueQuantity": {"value": 5.4, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
        "effectiveDateTime": "2024-03-05",
    }
    rows = indexer.index(glucose)
    quantity = (UCUM, "mmol/L", "mmol/L", 5.35, 5.45)
    assert rows_of(rows, "quantity", "value-quantity") == {("value-quantity", 0, *quantity)}
    assert rows_of(rows, "token", "code-value-quantity$0") == {("code-value-quantity$0", 1, LOINC, "15074-8", "glucose")}
    assert rows_of(rows, "quantity", "code-value-quantity$1") == {("code-value-quantity$1", 1, *quantity)}
    assert rows_of(rows, "date") == {("date", 0, *date_range("2024-03-05"))}


def test_condition_onset_choices(indexer: Indexer) -> None:
    condition = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "44054006", "display": "Diabetes mellitus type 2"}]},
        "subject": {"reference": "Patient/p1"},
        "onsetAge": {"value": 52, "unit": "jaar", "system": UCUM, "code": "a"},
        "abatementString": "na dieetwijziging",
        "recordedDate": "2024-02-30",
    }
    rows = indexer.index(condition)
    assert rows_of(rows, "quantity") == {("onset-age", 0, UCUM, "a", "jaar", 51.5, 52.5)}
    assert rows_of(rows, "string") == {("abatement-string", 0, "na dieetwijziging", "na dieetwijziging")}
    assert rows_of(rows, "date") == set()  # no onset date, and the recorded date is invalid: dropped
    assert rows_of(rows, "token", "code") == {("code", 0, SNOMED, "44054006", "diabetes mellitus type 2")}
    assert rows_of(rows, "reference") == {("subject", 0, "Patient", "p1", None), ("patient", 0, "Patient", "p1", None)}


def test_condition_onset_period_with_open_end(indexer: Indexer) -> None:
    condition = {"resourceType": "Condition", "onsetPeriod": {"start": "2023-06"}, "abatementDateTime": "2024"}
    rows = indexer.index(condition)
    assert rows_of(rows, "date") == {
        ("onset-date", 0, date_range("2023-06")[0], DATE_MAX),
        ("abatement-date", 0, *date_range("2024")),
    }


def test_encounter_references_of_every_shape(indexer: Indexer) -> None:
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "contained": [{"resourceType": "Practitioner", "id": "locum"}],
        "subject": {"identifier": {"system": BSN, "value": "999911120"}, "type": "Patient"},
        "participant": [
            {"individual": {"reference": "Practitioner/pr1"}},
            {"individual": {"reference": "#locum"}},
            {"individual": {"reference": "RelatedPerson/rp1"}},
        ],
        "period": {"end": "2024-03-05T11:00:00Z"},
        "serviceProvider": {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
    }
    rows = indexer.index(encounter)
    assert rows_of(rows, "reference") == {
        ("participant", 0, "Practitioner", "pr1", None),
        ("participant", 0, "RelatedPerson", "rp1", None),
        ("practitioner", 0, "Practitioner", "pr1", None),
        ("service-provider", 0, None, None, "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"),
    }
    assert rows_of(rows, "token", "subject:identifier", "patient:identifier") == {
        ("subject:identifier", 0, BSN, "999911120", None),
        ("patient:identifier", 0, BSN, "999911120", None),
    }
    assert rows_of(rows, "token", "class") == {
        ("class", 0, "http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory")
    }
    end = date_range("2024-03-05T11:00:00Z")[1]
    assert rows_of(rows, "date") == {("date", 0, DATE_MIN, end)}


def test_medication_request_code_or_reference(indexer: Indexer) -> None:
    coded = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "urn:oid:2.16.840.1.113883.2.4.4.10", "code": "67903", "display": "Metformine 500mg"}]
        },
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-03-05",
        "requester": {"reference": "PractitionerRole/role1"},
    }
    rows = indexer.index(coded)
    assert rows_of(rows, "token", "code") == {
        ("code", 0, "urn:oid:2.16.840.1.113883.2.4.4.10", "67903", "metformine 500mg")
    }
    assert rows_of(rows, "reference", "medication") == set()
    assert rows_of(rows, "token", "intent", "status") == {
        ("intent", 0, None, "order", None), ("status", 0, None, "active", None)
    }
    assert rows_of(rows, "date", "authoredon") == {("authoredon", 0, *date_range("2024-03-05"))}
    assert rows_of(rows, "reference", "requester") == {("requester", 0, "PractitionerRole", "role1", None)}
    referenced = {**coded, "medicationReference": {"reference": "Medication/m1"}}
    del referenced["medicationCodeableConcept"]
    rows = indexer.index(referenced)
    assert rows_of(rows, "reference", "medication") == {("medication", 0, "Medication", "m1", None)}
    assert rows_of(rows, "token", "code") == set()


def test_organization_and_practitioner(indexer: Indexer) -> None:
    organization = {
        "resourceType": "Organization",
        "identifier": [{"system": URA, "value": "12345678"}, {"system": AGB, "value": "06010713"}],
        "name": "Huisartsenpraktijk De Linde",
        "alias": ["HAP Linde"],
        "type": [{"coding": [{"system": "http://nictiz.nl/fhir/NamingSystem/organization-type", "code": "Z3"}]}],
        "partOf": {"reference": "Organization/koepel"},
        "address": [{"city": "'s-Hertogenbosch"}],
    }
    rows = indexer.index(organization)
    assert rows_of(rows, "token", "identifier") == {
        ("identifier", 0, URA, "12345678", None),
        ("identifier", 0, AGB, "06010713", None),
    }
    assert rows_of(rows, "string", "name") == {
        ("name", 0, "huisartsenpraktijk de linde", "Huisartsenpraktijk De Linde"),
        ("name", 0, "hap linde", "HAP Linde"),
    }
    assert rows_of(rows, "string", "address-city") == {("address-city", 0, "'s-hertogenbosch", "'s-Hertogenbosch")}
    assert rows_of(rows, "reference") == {("partof", 0, "Organization", "koepel", None)}

    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/big", "value": "19012345601"}],
        "name": [{"family": "de Vries", "given": ["Jan"], "suffix": ["MSc"], "text": "J. de Vries MSc"}],
        "telecom": [{"system": "email", "value": "j.devries@linde.nl"}],
    }
    rows = indexer.index(practitioner)
    assert rows_of(rows, "string", "name") == {
        ("name", 0, "de vries", "de Vries"),
        ("name", 0, "jan", "Jan"),
        ("name", 0, "msc", "MSc"),
        ("name", 0, "j. de vries msc", "J. de Vries MSc"),
    }
    assert rows_of(rows, "token", "email") == {("email", 0, "email", "j.devries@linde.nl", None)}
    assert rows_of(rows, "token", "phone") == set()


def test_money_range_timing_and_canonicals(indexer: Indexer) -> None:
    charge = {
        "resourceType": "ChargeItem",
        "priceOverride": {"value": 12.5, "currency": "EUR"},
        "occurrenceTiming": {"event": ["2024-01-10", "2024-02-03T10:00:00Z"]},
        "definitionCanonical": ["http://nictiz.nl/fhir/ChargeItemDefinition/consult|1.2"],
    }
    rows = indexer.index(charge)
    assert rows_of(rows, "quantity") == {
        ("price-override", 0, "urn:iso:std:iso:4217", "EUR", None, 12.45, 12.55)
    }
    assert rows_of(rows, "date") == {
        ("occurrence", 0, date_range("2024-01-10")[0], date_range("2024-02-03T10:00:00Z")[1])
    }
    risk = {
        "resourceType": "RiskAssessment",
        "prediction": [{"probabilityRange": {"low": {"value": 0.1}, "high": {"value": 0.25}}},
                       {"probabilityDecimal": 0.3}],
    }
    assert rows_of(indexer.index(risk), "number") == {
        ("probability", 0, 0.05, 0.255),
        ("probability", 0, 0.25, 0.35),
    }
    value_set = {
        "resourceType": "ValueSet",
        "url": "http://nictiz.nl/fhir/ValueSet/Geslacht",
        "useContext": [{"code": {"code": "age"}, "valueRange": {"low": {"value": 18, "unit": "a"}}}],
    }
    rows = indexer.index(value_set)
    assert rows_of(rows, "uri") == {("url", 0, "http://nictiz.nl/fhir/ValueSet/Geslacht")}
    assert rows_of(rows, "quantity", "context-quantity") == {
        ("context-quantity", 0, None, None, "a", 17.5, math.inf)
    }


def test_canonical_references_lose_their_version(indexer: Indexer) -> None:
    plan = {
        "resourceType": "PlanDefinition",
        "library": ["http://nictiz.nl/fhir/Library/bmi|2.0.0"],
        "relatedArtifact": [{"type": "depends-on", "resource": "http://example.org/ValueSet/vs1"}],
    }
    assert rows_of(indexer.index(plan), "reference", "depends-on") == {
        ("depends-on", 0, "Library", "bmi", "http://nictiz.nl/fhir/Library/bmi"),
        ("depends-on", 0, "ValueSet", "vs1", "http://example.org/ValueSet/vs1"),
    }


def test_document_bundle_composition(indexer: Indexer) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"},
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1"}}, {"resource": {"resourceType": "Patient"}}],
    }
    rows = indexer.index(bundle)
    assert rows_of(rows, "reference") == {("composition", 0, "Composition", "c1", None)}  # not a MessageHeader


def test_duplicate_rows_are_removed(indexer: Indexer) -> None:
    twice = patient()
    twice["name"] = [twice["name"][0], dict(twice["name"][0])]
    twice["identifier"] = twice["identifier"] * 2
    rows = indexer.index(twice)
    for table in rows.by_table().values():
        assert len(table) == len(set(table))
    assert [row for row in rows.string if row[0] == "family"] == [
        ("family", 0, "van der berg-sanchez", "van der Berg-Sánchez")
    ]


def test_unreadable_values_are_dropped_not_fatal(indexer: Indexer) -> None:
    odd = {
        "resourceType": "Observation",
        "status": 5,
        "code": {"coding": "8867-4"},
        "subject": {"reference": 42},
        "effectiveDateTime": "yesterday",
        "valueQuantity": {"value": "a lot"},
        "component": [None, "x", {"code": [], "valueQuantity": {}}],
    }
    rows = indexer.index(odd)
    assert all(not table for table in rows.by_table().values())


def test_every_resource_type_indexes_any_shape_of_top_level_value(indexer: Indexer) -> None:
    model = indexer.model
    shapes: list[Any] = ["x", 1, 2.5, True, [], {}, [None], ["x"], [{"a": 1}], {"reference": 5}, {"start": "bad"}]
    for res_type in sorted(model.resource_types):
        for shape in shapes:
            resource = {name: shape for name in model.top_level_names[res_type]}
            resource["resourceType"] = res_type
            assert isinstance(indexer.index(resource), IndexRows)


def test_not_a_resource_gives_no_rows(indexer: Indexer) -> None:
    assert indexer.index({"id": "x"}) == IndexRows()
    assert indexer.index({"resourceType": "NoSuchType", "name": "x"}) == IndexRows()
