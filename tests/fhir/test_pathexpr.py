"""The FHIRPath compiler: every official R4 expression compiles, and each construct selects the right typed values."""

from __future__ import annotations

from typing import Any

import pytest

from samen.fhir.model import Model
from samen.fhir.pathexpr import compile_path, reference_parts

# Expressions of the official R4 parameters the fast path deliberately leaves to fhirpathpy: none.
DELIBERATELY_SLOW: dict[str, str] = {}

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "extension": [
        {"url": "http://nictiz.nl/fhir/StructureDefinition/ext-Nationality", "valueCodeableConcept": {"text": "NL"}},
        {"url": "http://example.org/other", "valueString": "x"},
    ],
    "name": [
        {"family": "van der Berg", "given": ["Anna", "Maria"], "prefix": ["dr."]},
        {"family": "Sánchez", "given": ["Ana"]},
    ],
    "telecom": [
        {"system": "phone", "value": "+31612345678", "use": "mobile"},
        {"system": "email", "value": "anna@example.nl"},
        {"system": "phone", "value": "030-1234567", "use": "work"},
    ],
    "deceasedBoolean": False,
    "contact": [{"name": {"family": "Visser"}}],
}


@pytest.fixture(scope="module")
def model() -> Model:
    return Model.load()


def select(model: Model, expression: str, resource: dict[str, Any]) -> list[tuple[Any, str]]:
    return compile_path(model, expression, resource["resourceType"])(resource)


def test_every_r4_search_parameter_compiles_with_known_result_types(model: Model) -> None:
    definitions, slow = set(), []
    for res_type in sorted(model.resource_types):
        for code, param in model.search_parameters(res_type).items():
            if not param.expression or param.type == "special":
                continue
            compiled = compile_path(model, param.expression, res_type)
            paths = [compiled]
            if param.type == "composite":
                paths += [compile_path(model, e, compiled.focus or (), res_type) for _, e in param.components]
            definitions.add(param.url)
            for path in paths:
                if not path.fast:
                    slow.append(path.expression)
                else:
                    assert path.types, f"{res_type}.{code}: {path.expression} has no result type"
    assert len(definitions) >= 1370  # R4 has 1,378 parameters, a few without expression
    assert sorted(set(slow)) == sorted(DELIBERATELY_SLOW)


def test_choice_element_yields_the_type_named_by_its_json_key(model: Model) -> None:
    observation = {"resourceType": "Observation", "valueQuantity": {"value": 7.2, "unit": "mmol/L"}}
    assert select(model, "Observation.value", observation) == [({"value": 7.2, "unit": "mmol/L"}, "Quantity")]
    observation = {"resourceType": "Observation", "valueString": "positief"}
    assert select(model, "Observation.value", observation) == [("positief", "string")]


def test_of_type_and_as_select_one_choice_type(model: Model) -> None:
    quantity = {"resourceType": "Observation", "valueQuantity": {"value": 1}}
    period = {"resourceType": "Observation", "valuePeriod": {"start": "2024"}}
    both = "(Observation.value.ofType(dateTime)) | (Observation.value.ofType(Period))"
    assert select(model, both, quantity) == []
    assert select(model, both, period) == [({"start": "2024"}, "Period")]
    assert select(model, "Observation.value as Quantity", quantity) == [({"value": 1}, "Quantity")]
    assert select(model, "Observation.value.as(Quantity)", period) == []
    condition = {"resourceType": "Condition", "onsetAge": {"value": 40, "code": "a"}}
    assert select(model, "Condition.onset.ofType(Age) | Condition.onset.ofType(Range)", condition) == [
        ({"value": 40, "code": "a"}, "Age")
    ]


def test_inline_resources_take_their_type_from_resource_type(model: Model) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Patient", "id": "1"}}, {"resource": {"resourceType": "Group"}}],
    }
    assert select(model, "Bundle.entry.resource.ofType(Patient)", bundle) == [
        ({"resourceType": "Patient", "id": "1"}, "Patient")
    ]
    assert select(model, "Bundle.entry.resource.ofType(Patient).id", bundle) == [("1", "string")]


def test_nested_backbone_and_datatype_elements_carry_their_types(model: Model) -> None:
    assert select(model, "Patient.contact.name", PATIENT) == [({"family": "Visser"}, "HumanName")]
    assert select(model, "Patient.name.given", PATIENT) == [
        ("Anna", "string"), ("Maria", "string"), ("Ana", "string")
    ]
    assert select(model, "Patient.contact", PATIENT)[0][1] == "BackboneElement"


def test_resolve_is_keeps_references_to_that_type(model: Model) -> None:
    encounter = {
        "resourceType": "Encounter",
        "participant": [
            {"individual": {"reference": "Practitioner/1"}},
            {"individual": {"reference": "https://fhir.example.nl/fhir/Practitioner/2/_history/3"}},
            {"individual": {"reference": "RelatedPerson/3"}},
            {"individual": {"identifier": {"value": "x"}, "type": "Practitioner"}},
            {"individual": {"display": "nobody"}},
        ],
    }
    found = select(model, "Encounter.participant.individual.where(resolve() is Practitioner)", encounter)
    assert [value for value, _ in found] == [
        {"reference": "Practitioner/1"},
        {"reference": "https://fhir.example.nl/fhir/Practitioner/2/_history/3"},
        {"identifier": {"value": "x"}, "type": "Practitioner"},
    ]
    assert {fhir_type for _, fhir_type in found} == {"Reference"}


def test_resolve_is_looks_into_contained_resources(model: Model) -> None:
    observation = {
        "resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "anon"}, {"resourceType": "Group", "id": "g"}],
        "subject": {"reference": "#anon"},
    }
    assert select(model, "Observation.subject.where(resolve() is Patient)", observation) == [
        ({"reference": "#anon"}, "Reference")
    ]
    observation["subject"] = {"reference": "#g"}
    assert select(model, "Observation.subject.where(resolve() is Patient)", observation) == []


def test_where_with_equality(model: Model) -> None:
    phones = select(model, "Patient.telecom.where(system='phone')", PATIENT)
    assert [value["value"] for value, _ in phones] == ["+31612345678", "030-1234567"]
    mobile = select(model, "Patient.telecom.where(system='phone' and use='mobile').value", PATIENT)
    assert mobile == [("+31612345678", "string")]
    not_email = select(model, "Patient.telecom.where(system != 'email').use", PATIENT)
    assert not_email == [("mobile", "code"), ("work", "code")]


def test_extensions_by_url(model: Model) -> None:
    url = "http://nictiz.nl/fhir/StructureDefinition/ext-Nationality"
    expected = [({"text": "NL"}, "CodeableConcept")]
    assert select(model, f"Patient.extension('{url}').value", PATIENT) == expected
    assert select(model, f"Patient.extension.where(url='{url}').value", PATIENT) == expected
    assert select(model, "Patient.extension('http://nowhere').value", PATIENT) == []


def test_indexing_and_first(model: Model) -> None:
    assert select(model, "Patient.name[1].family", PATIENT) == [("Sánchez", "string")]
    assert select(model, "Patient.name[5].family", PATIENT) == []
    assert select(model, "Patient.name.given.first()", PATIENT) == [("Anna", "string")]
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c"}}, {"resource": {"resourceType": "Patient"}}],
    }
    assert select(model, "Bundle.entry[0].resource", bundle) == [
        ({"resourceType": "Composition", "id": "c"}, "Composition")
    ]


@pytest.mark.parametrize(
    ("deceased", "expected"),
    [({}, False), ({"deceasedBoolean": False}, False), ({"deceasedBoolean": True}, True),
     ({"deceasedDateTime": "2020-01-01"}, True)],
)
def test_boolean_logic_of_the_deceased_parameter(model: Model, deceased: dict, expected: bool) -> None:
    patient = {"resourceType": "Patient", **deceased}
    found = select(model, "Patient.deceased.exists() and Patient.deceased != false", patient)
    assert found == [(expected, "boolean")]


def test_resource_variable_in_a_composite_component(model: Model) -> None:
    sequence = {
        "resourceType": "MolecularSequence",
        "referenceSeq": {"chromosome": {"coding": [{"code": "7"}]}},
        "variant": [{"start": 1, "end": 2}],
    }
    variants = compile_path(model, "MolecularSequence.variant", "MolecularSequence")
    component = compile_path(model, "%resource.referenceSeq.chromosome", variants.focus or (), "MolecularSequence")
    root = (sequence, "MolecularSequence", "MolecularSequence")
    (variant,) = variants.run([root], root)
    assert [(v, t) for v, t, _ in component.run([variant], root)] == [({"coding": [{"code": "7"}]}, "CodeableConcept")]


def test_component_expressions_are_relative_to_the_composite_element(model: Model) -> None:
    components = compile_path(model, "Observation.component", "Observation")
    value = compile_path(model, "value.ofType(Quantity)", components.focus or (), "Observation")
    observation = {
        "resourceType": "Observation",
        "component": [{"valueQuantity": {"value": 120}}, {"valueString": "n/a"}, {"valueQuantity": {"value": 80}}],
    }
    root = (observation, "Observation", "Observation")
    found = [[v for v, _, _ in value.run([c], root)] for c in components.run([root], root)]
    assert found == [[{"value": 120}], [], [{"value": 80}]]


def test_unsupported_functions_fall_back_to_fhirpathpy_with_types(model: Model) -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "van Dijk"}, {"family": "Jansen"}]}
    names = compile_path(model, "Patient.name.where(family.startsWith('van'))", "Patient")
    assert not names.fast
    assert names(patient) == [({"family": "van Dijk"}, "HumanName")]
    length = compile_path(model, "Patient.name.family.first().length()", "Patient")
    assert length(patient) == [(8, "integer")]
    assert compile_path(model, "Patient.name.family.length()", "Patient")(patient) == []  # an error selects nothing


def test_values_of_the_wrong_shape_select_nothing(model: Model) -> None:
    odd = {"resourceType": "Patient", "name": "Jansen", "telecom": [None, "x", 3], "contact": {"name": 5}}
    assert select(model, "Patient.name.family", odd) == []
    assert select(model, "Patient.telecom.where(system='phone')", odd) == []
    assert select(model, "Patient.contact.name.family", odd) == []


def test_compiling_twice_returns_the_same_compiled_path(model: Model) -> None:
    assert compile_path(model, "Patient.name", "Patient") is compile_path(model, "Patient.name", "Patient")


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("Patient/123", ("Patient", "123")),
        ("Patient/123/_history/2", ("Patient", "123")),
        ("https://fhir.example.nl/fhir/Observation/a.b-c", ("Observation", "a.b-c")),
        ("#contained", None),
        ("urn:uuid:8a3e3c2a-2f1c-4b6e-9d9b-0c7c1f9a6b11", None),
        ("123", None),
        ("patient/123", None),
        ("Patient/", None),
        ("Patient/has space", None),
    ],
)
def test_reference_parts(reference: str, parts: tuple[str, str] | None) -> None:
    assert reference_parts(reference) == parts
