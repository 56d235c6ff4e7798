"""The FHIRPath compiler of invariants, on FHIR JSON: paths, logic, functions, types."""

from __future__ import annotations

from typing import Any

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation.fhirpath import Env, Unsupported, compile_expression, resource_item, truth

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [
        {"use": "official", "family": "Jansen", "_family": {"extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-name", "valueString": "Jansen"}]},
         "given": ["Anna", "Maria"]},
        {"use": "nickname", "given": ["Ans"]},
    ],
    "gender": "female",
    "birthDate": "1950-04-01",
    "deceasedBoolean": False,
    "multipleBirthInteger": 2,
    "contained": [{"resourceType": "Organization", "id": "o1", "name": "Huisartsenpraktijk"}],
    "managingOrganization": {"reference": "#o1"},
}


@pytest.fixture(scope="module")
def evaluate(model: Model, conformance: Conformance) -> Any:
    terminology = Terminology(conformance)

    def run(expression: str) -> list[Any]:
        root = resource_item(PATIENT)
        return [item[0] for item in compile_expression(model, expression)([root], Env(root, root, root, terminology))]

    return run


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name.given", ["Anna", "Maria", "Ans"]),
        ("name[1].given.first()", ["Ans"]),
        ("name.where(use = 'official').family", ["Jansen"]),
        ("Patient.name.count()", [2]),
        ("deceased", [False]),
        ("deceased is boolean", [True]),
        ("multipleBirth.ofType(integer) + 1", [3]),
        ("name.given.exists($this.startsWith('M'))", [True]),
        ("name.all(given.exists())", [True]),
        ("name.select(given.count())", [2, 1]),
        ("name.given.isDistinct()", [True]),
        ("(name.given | name.given).count()", [3]),
        ("name.family.extension('http://hl7.org/fhir/StructureDefinition/humanname-own-name').value", ["Jansen"]),
        ("name.family.hasValue()", [True]),
        ("name.given.hasValue()", [False]),  # true only for a single primitive with a value
        ("birthDate < @1960-01-01", [True]),
        ("birthDate > '1950'", []),  # the year contains the date: undecided
        ("birthDate = '1950-04-01'", [True]),
        ("birthDate.toString().length() >= 8", [True]),
        ("gender in ('male' | 'female')", [True]),
        ("('a' | 'b') contains 'c'", [False]),
        ("telecom.exists() or address.exists()", [False]),
        ("telecom.value = 'x'", []),
        ("{} or true", [True]),
        ("{} and true", []),
        ("false implies {}", [True]),
        ("true xor false", [True]),
        ("managingOrganization.resolve().name", ["Huisartsenpraktijk"]),
        ("contained.where(('#' + id) in %resource.descendants().reference).exists()", [True]),
        ("children().count() > id.count()", [True]),
        ("iif(gender = 'female', 'v', 'm')", ["v"]),
        ("name.family.matches('[A-Z][a-z]+')", [True]),
        ("name.family.substring(1, 3)", ["ans"]),
        ("gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')", [True]),
        ("'%' & %ucum", ["%http://unitsofmeasure.org"]),
        ("7 div 2 = 3 and 7 mod 2 = 1", [True]),
        ("name.given.subsetOf('Anna' | 'Maria' | 'Ans' | 'Bep')", [True]),
    ],
)
def test_expressions(evaluate: Any, expression: str, expected: list[Any]) -> None:
    assert evaluate(expression) == expected


def test_a_boolean_of_several_items_is_an_error() -> None:
    with pytest.raises(ValueError):
        truth([(True, "boolean", "boolean", None), (False, "boolean", "boolean", None)])


def test_unsupported_fhirpath_is_said_at_compile_time(model: Model) -> None:
    with pytest.raises(Unsupported):
        compile_expression(model, "name.aggregate($total + 1, 0)")


def test_every_core_invariant_compiles(model: Model, conformance: Conformance) -> None:
    expressions = set()
    for url in conformance.core_urls():
        resource = conformance.get(url)
        if resource is not None and resource["resourceType"] == "StructureDefinition":
            for element in resource.get("snapshot", {}).get("element", ()):
                expressions.update(c["expression"] for c in element.get("constraint", ()) if c.get("expression"))
    assert len(expressions) > 200
    for expression in expressions:
        compile_expression(model, expression)
