"""Numbers and quantities (prefixes over implicit precision ranges, ``value|system|code``, ``value||unit``)
and composites (components matched on the same element)."""

from __future__ import annotations

import pytest
from search_bed import LOINC, UCUM, Bed, observation

from samen.fhir.model import Model
from samen.store.search import SearchError, parse_search


def sequence(res_id: str, start: int) -> dict:
    return {"resourceType": "MolecularSequence", "id": res_id, "coordinateSystem": 0, "variant": [{"start": start}]}


def test_number_prefixes(bed: Bed) -> None:
    bed.add_all([sequence("s99", 99), sequence("s100", 100), sequence("s101", 101), sequence("s1000", 1000),
                 {"resourceType": "MolecularSequence", "id": "none", "coordinateSystem": 0}])
    expected = {
        "100": {"s100"},
        "eq100": {"s100"},
        "ne100": {"s99", "s101", "s1000"},
        "gt100": {"s101", "s1000"},
        "lt100": {"s99"},
        "ge100": {"s100", "s101", "s1000"},
        "le100": {"s99", "s100"},
        "sa100": {"s101", "s1000"},
        "eb100": {"s99"},
        "ap100": {"s99", "s100", "s101"},  # 100 +- 10%
        "ap1000": {"s1000"},
        "99,1000": {"s99", "s1000"},
        "gt1e2": {"s1000"},  # 1e2 is 50..150: 101 is not above that
        "100.0": set(),  # 100 ([99.5, 100.5)) is not within 99.95..100.05
    }
    failures = []
    for value, ids in expected.items():
        found = bed.ids("MolecularSequence", [("variant-start", value)])
        if found != ids:
            failures.append(f"variant-start={value}: expected {sorted(ids)}, found {sorted(found)}")
    assert not failures, "\n".join(failures)
    assert bed.ids("MolecularSequence", "variant-start:missing=true") == {"none"}
    assert bed.ids("MolecularSequence", "variant-start=gt99&variant-start=lt1000") == {"s100", "s101"}


def test_decimals(bed: Bed) -> None:
    def risk(res_id: str, probability: float) -> dict:
        return {"resourceType": "RiskAssessment", "id": res_id, "status": "final", "subject": {"reference": "Patient/p"},
                "prediction": [{"probabilityDecimal": probability}]}

    bed.add_all([risk("half", 0.5), risk("quarter", 0.25), risk("tenth", 0.1)])
    assert bed.ids("RiskAssessment", "probability=0.5") == {"half"}
    assert bed.ids("RiskAssessment", "probability=0.25") == {"quarter"}
    assert bed.ids("RiskAssessment", "probability=gt0.3") == {"half"}
    assert bed.ids("RiskAssessment", "probability=le0.25") == {"quarter", "tenth"}
    assert bed.ids("RiskAssessment", "probability=lt0.2") == {"tenth"}
    # 0.25 is 0.245..0.255, which reaches below 0.2495 (0.250 at its precision)
    assert bed.ids("RiskAssessment", "probability=lt0.250") == {"quarter", "tenth"}


@pytest.fixture
def measured(bed: Bed) -> Bed:
    def obs(res_id: str, quantity: dict, code: str = "8867-4") -> dict:
        resource = observation("Patient/p", code=code, value=None, id=res_id)
        resource["valueQuantity"] = quantity
        return resource

    bed.add_all(
        [
            obs("hr72", {"value": 72, "unit": "/min", "system": UCUM, "code": "/min"}),
            obs("mg-coded", {"value": 5.4, "unit": "milligram", "system": UCUM, "code": "mg"}, code="1234-5"),
            obs("mg-unit", {"value": 5.4, "unit": "mg"}, code="1234-5"),
            obs("kg", {"value": 100, "unit": "kg", "system": UCUM, "code": "kg"}, code="29463-7"),
            {
                "resourceType": "Observation",
                "id": "bp",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
                "subject": {"reference": "Patient/p"},
                "component": [
                    {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                     "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
                    {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                     "valueQuantity": {"value": 80, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
                ],
            },
        ]
    )
    return bed


def test_quantity_forms(measured: Bed) -> None:
    bed = measured
    assert bed.ids("Observation", "value-quantity=72") == {"hr72"}
    assert bed.ids("Observation", f"value-quantity=72|{UCUM}|/min") == {"hr72"}
    assert bed.ids("Observation", f"value-quantity=72|{UCUM}|kg") == set()
    assert bed.ids("Observation", f"value-quantity=5.4|{UCUM}|mg") == {"mg-coded"}
    assert bed.ids("Observation", "value-quantity=5.4||mg") == {"mg-coded", "mg-unit"}  # code or unit
    assert bed.ids("Observation", f"value-quantity=5.4|{UCUM}|") == {"mg-coded"}
    assert bed.ids("Observation", "value-quantity=lt80") == {"hr72", "mg-coded", "mg-unit"}
    assert bed.ids("Observation", "value-quantity=ge72||/min,gt99||kg") == {"hr72", "kg"}
    assert bed.ids("Observation", "value-quantity=ap70") == {"hr72"}
    assert bed.ids("Observation", "value-quantity:missing=true") == {"bp"}
    assert bed.ids("Observation", "component-value-quantity=120") == {"bp"}


def test_composite_components_match_on_the_same_element(measured: Bed) -> None:
    bed = measured
    assert bed.ids("Observation", "code-value-quantity=8867-4$gt70") == {"hr72"}
    assert bed.ids("Observation", f"code-value-quantity={LOINC}|8867-4$72|{UCUM}|/min") == {"hr72"}
    assert bed.ids("Observation", "code-value-quantity=8867-4$lt70") == set()
    assert bed.ids("Observation", "code-value-quantity=1234-5$5.4||mg") == {"mg-coded", "mg-unit"}
    # systolic 120, diastolic 80: both codes and both values occur, but not diastolic > 100
    assert bed.ids("Observation", "component-code-value-quantity=8480-6$gt100") == {"bp"}
    assert bed.ids("Observation", "component-code-value-quantity=8462-4$gt100") == set()
    assert bed.ids("Observation", f"component-code-value-quantity={LOINC}|8462-4$lt90") == {"bp"}
    assert bed.ids("Observation", "component-code-value-quantity=8462-4$gt100,8480-6$gt100") == {"bp"}
    assert bed.ids("Observation", "component-code-value-quantity=8462-4$80&component-code-value-quantity=8480-6$120") == {
        "bp"
    }
    assert bed.ids("Observation", "component-code-value-quantity:missing=false") == {"bp"}
    assert "bp" not in bed.ids("Observation", "component-code-value-quantity:missing=true")


@pytest.mark.parametrize(
    "name, value",
    [
        ("value-quantity", "abc"),
        ("value-quantity", "5|mg"),
        ("value-quantity", "xx5"),
        ("value-quantity", "5|a|b|c"),
        ("value-quantity", "NaN"),
        ("code-value-quantity", "8867-4"),  # one part missing
        ("code-value-quantity", "8867-4$gt"),
        ("code-value-quantity", "a$1$2"),
        ("code-value-quantity:exact", "a$1"),
        ("value-quantity:exact", "1"),
    ],
)
def test_malformed_numbers_quantities_and_composites(model: Model, name: str, value: str) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Observation", [(name, value)])
    assert raised.value.status == 400
