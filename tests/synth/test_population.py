"""The population: CBS age and sex structure, households, BSNs, names and addresses in nl-core form."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from samen.sample import elfproef
from samen.synth.bsn import MAX_PEOPLE, synthetic_bsn
from samen.synth.data.population import CBS_2024_THOUSANDS, HOUSEHOLD_BLOCK
from samen.synth.people import Person, make_block
from samen.synth.places import EMBEDDED_PLACES, Place, places_in, region_names
from samen.synth.randomness import Weighted

PEOPLE = 20_000


def population(people: int, seed: int = 3, region: str = "Nederland",
               places: tuple[Place, ...] = EMBEDDED_PLACES) -> list[Person]:
    chosen = places_in(places, region)
    weighted = Weighted(chosen, [p.inhabitants for p in chosen])
    blocks = math.ceil(people / HOUSEHOLD_BLOCK)
    return [p for b in range(blocks) for p in make_block(seed, b, min(HOUSEHOLD_BLOCK, people - b * HOUSEHOLD_BLOCK),
                                                          weighted)]


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return population(PEOPLE)


def test_cbs_table_totals_the_dutch_population() -> None:
    men = sum(m for m, _ in CBS_2024_THOUSANDS)
    women = sum(w for _, w in CBS_2024_THOUSANDS)
    assert abs(men + women - 17_943) <= 10  # CBS 85496NED and 7461BEV: 17,942,942 on 1 January 2024
    assert 0.49 < men / (men + women) < 0.5


def test_age_and_sex_follow_cbs_within_four_standard_errors(people: list[Person]) -> None:
    total = sum(m + w for m, w in CBS_2024_THOUSANDS)
    observed = Counter((min(p.age // 5, 19), p.sex) for p in people)
    for group, (men, women) in enumerate(CBS_2024_THOUSANDS):
        for sex, count in (("male", men), ("female", women)):
            expected = count / total
            share = observed[(group, sex)] / len(people)
            assert abs(share - expected) <= 4 * math.sqrt(expected * (1 - expected) / len(people)) + 1e-9, (group, sex)


# CBS StatLine 37296ned (Bevolking; kerncijfers), 1 January 2019, the latest year with these bands
# found in a citable copy: <20, 20-40, 40-65, 65-80, 80+ (aantal).
CBS_2019_BANDS = ((0, 3_791_838), (20, 4_309_987), (40, 5_866_334), (65, 2_515_184), (80, 798_820))


def test_broad_age_bands_stay_close_to_published_cbs_figures(people: list[Person]) -> None:
    """An anchor outside the embedded table: five years of ageing and migration move each band by less
    than 1.5 percentage points (65-80 grew from 14.6 % towards 15.6 %), so 2 points is the tolerance."""
    total = sum(count for _, count in CBS_2019_BANDS)
    starts = [start for start, _ in CBS_2019_BANDS]
    for index, (start, count) in enumerate(CBS_2019_BANDS):
        end = starts[index + 1] if index + 1 < len(starts) else 200
        share = sum(1 for p in people if start <= p.age < end) / len(people)
        assert abs(share - count / total) < 0.02, (start, end, share, count / total)
    men = sum(1 for p in people if p.sex == "male") / len(people)
    assert abs(men - 8_850_309 / 17_811_291) < 0.01  # CBS 85496NED, 1 January 2023


def test_households_are_dutch_sized(people: list[Person]) -> None:
    sizes = Counter(Counter(id(p.household) for p in people).values())
    households = sum(sizes.values())
    assert 1.9 <= len(people) / households <= 2.25  # CBS 2024: 2.12 people per private household
    assert 0.35 <= sizes[1] / households <= 0.45  # CBS: 39 % single-person households
    parent_of = {id(child): parent for parent in people for child in parent.children}
    minors = [p for p in people if p.age < 18]
    assert all(id(child) in parent_of and parent_of[id(child)].household is child.household for child in minors)
    plausible = [c for c in minors if 18 <= parent_of[id(c)].age - c.age <= 60]
    assert len(plausible) >= 0.98 * len(minors)  # the rest: blocks without a fitting adult


def test_partners_share_a_household_and_usage_names_the_partner(people: list[Person]) -> None:
    couples = [p for p in people if p.partner is not None]
    assert 0.4 < len(couples) / sum(p.age >= 18 for p in people) < 0.7
    for person in couples:
        assert person.partner.partner is person and person.partner.household is person.household
        if person.name_usage == "NL3":
            assert person.family == f"{person.partner.own_family}-{person.own_family}"


def test_bsns_pass_the_elfproef_and_are_unique(people: list[Person]) -> None:
    bsns = [p.bsn for p in people]
    assert len(set(bsns)) == len(bsns)
    assert all(elfproef(b) and b.startswith("9") for b in bsns)


def test_bsn_space_is_a_bijection_at_its_edges() -> None:
    edges = [*range(0, 2000), *range(999_000, 1_001_000), *range(MAX_PEOPLE - 2000, MAX_PEOPLE)]
    numbers = {synthetic_bsn(11, i) for i in edges}
    assert len(numbers) == len(edges) and all(elfproef(n) for n in numbers)
    with pytest.raises(ValueError):
        synthetic_bsn(11, MAX_PEOPLE)


def test_a_region_keeps_people_in_its_places() -> None:
    rijnmond = population(2000, region="Rotterdam-Rijnmond")
    allowed = {p.name for p in places_in(EMBEDDED_PLACES, "Rotterdam-Rijnmond")}
    assert {p.household.place.name for p in rijnmond} <= allowed
    assert Counter(p.household.place.name for p in rijnmond).most_common(1)[0][0] == "Rotterdam"
    with pytest.raises(ValueError, match="unknown region"):
        places_in(EMBEDDED_PLACES, "Atlantis")
    assert "Zuid-Holland" in region_names()

