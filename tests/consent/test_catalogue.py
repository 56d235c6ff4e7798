"""The consent catalogue: its lists, and the mappings the data holder's policy uses to ask the closed question."""

from __future__ import annotations

import pytest

from samen.auth import policy
from samen.consent import catalogue


def test_the_lists_hold_mitz_categories_with_dutch_and_english_names() -> None:
    holders = {code: (nl, en) for code, nl, en in catalogue.holder_categories()}
    assert holders["huisarts"][0] == "Huisartsen en huisartsenposten"
    assert holders["apotheek"][0] == "Apotheken"
    assert [code for code, _, _ in catalogue.data_categories()] == ["behandelgegevens", "medicatiegegevens"]
    requesters = [code for code, _, _ in catalogue.requester_categories()]
    assert requesters == ["huisarts", "apotheek", "ziekenhuis", "vvt", "ggz", "overig"]
    assert all(nl and en for _, nl, en in catalogue.holder_categories() + catalogue.requester_categories())


@pytest.mark.parametrize(
    ("organisation_type", "holder", "requester"),
    [("Z3", "huisarts", "huisarts"), ("N6", "huisarts", "huisarts"), ("J8", "apotheek", "apotheek"),
     ("V4", "ziekenhuis", "ziekenhuis"), ("L1", "laboratorium", "ziekenhuis"), ("X3", "vvt", "vvt"),
     ("R5", "vvt", "vvt"), ("G5", "ggz", "ggz"), ("TA2", "overig", "overig"), ("XX", None, None)],
)
def test_zorgaanbiedertypes_map_to_holder_and_requester_categories(
    organisation_type: str, holder: str | None, requester: str | None
) -> None:
    assert catalogue.holder_category(organisation_type) == holder
    assert catalogue.requester_category(organisation_type) == requester


def test_every_organisation_type_the_policy_names_has_a_category() -> None:
    types = policy.HOSPITALS | policy.GP_PRACTICES | policy.PHARMACIES | policy.NURSING_AND_CARE | policy.MENTAL_HEALTH
    assert {t: catalogue.holder_category(t) for t in types if catalogue.holder_category(t) is None} == {}


def test_every_type_belongs_to_one_holder_category() -> None:
    seen: list[str] = []
    data = catalogue._data()["holder_categories"]
    for concept in data:
        seen.extend(concept["organisation_types"])
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("res_type", "category"),
    [("MedicationRequest", "medicatiegegevens"), ("MedicationDispense", "medicatiegegevens"),
     ("Observation", "behandelgegevens"), ("Condition", "behandelgegevens"), ("Patient", None),
     ("Organization", None), ("Medication", None)],
)
def test_resource_types_map_to_data_categories(res_type: str, category: str | None) -> None:
    assert catalogue.data_category(res_type) == category
    assert catalogue.data_category(res_type, {"resourceType": res_type}) == category


def test_codes_are_checked_per_list_and_systems_differ() -> None:
    assert catalogue.is_code("holder", "laboratorium")
    assert not catalogue.is_code("requester", "laboratorium")
    assert not catalogue.is_code("data", "huisarts")
    systems = {catalogue.HOLDER_CATEGORY_SYSTEM, catalogue.DATA_CATEGORY_SYSTEM, catalogue.REQUESTER_CATEGORY_SYSTEM}
    assert len(systems) == 3
    assert catalogue.system("data") == catalogue.DATA_CATEGORY_SYSTEM
