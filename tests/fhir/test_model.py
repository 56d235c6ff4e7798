"""The model: per-type expressions of shared search parameters, elements, summaries."""

from __future__ import annotations

from samen.fhir.model import Model
from samen.store.indexer import Indexer


def test_shared_parameter_keeps_only_its_own_branch(model: Model) -> None:
    assert model.search_parameter("Observation", "patient").expression == "Observation.subject.where(resolve() is Patient)"
    assert model.search_parameter("Condition", "patient").expression == "Condition.subject.where(resolve() is Patient)"


def test_bare_resource_branch_is_kept(model: Model) -> None:
    assert model.search_parameter("Observation", "combo-code-value-quantity").expression == "Observation | Observation.component"
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    rows = Indexer(model).index(observation)
    combo_codes = [row for row in rows.token if row[0].startswith("combo-code-value-quantity$")]
    assert [(row[3], row[1]) for row in combo_codes] == [("29463-7", 1)]


def test_choice_element_and_summary(model: Model) -> None:
    effective = model.element("Observation", "effective")
    assert effective is not None and effective.choice
    assert ("effectivePeriod", "Period") in effective.json_names()
    assert {"identifier", "name", "birthDate"} <= model.summary_elements["Patient"]
    assert "photo" not in model.summary_elements["Patient"]
