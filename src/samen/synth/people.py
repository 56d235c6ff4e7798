"""The synthetic population: people with Dutch ages, names and addresses, living in households.

People are made in blocks of :data:`~samen.synth.data.population.HOUSEHOLD_BLOCK`. A block draws
each person's sex and age from the CBS table (so the population follows it exactly, in expectation),
then forms households inside the block: adults pair into couples of similar age, children join a
parent of fitting age, young adults (18-24) often still live at home, the other adults live alone.
A household shares one address in one place of the region, and usually a surname.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta

from samen.synth.bsn import synthetic_bsn
from samen.synth.data import names as name_data
from samen.synth.data import population as pop
from samen.synth.places import Place, Postcode
from samen.synth.randomness import HOUSEHOLDS, Weighted, derived_random

REFERENCE_DATE = date(2025, 1, 1)  # "today" of every population: fixed, so a seed always gives the same data
_LETTERS = tuple(a + b for a in string.ascii_uppercase for b in string.ascii_uppercase
                 if a + b not in ("SA", "SD", "SS"))  # PostNL never issues these letter pairs
_AGE_SEX = Weighted(
    [(sex, group) for group in range(len(pop.CBS_2024_THOUSANDS)) for sex in ("male", "female")],
    [count for men, women in pop.CBS_2024_THOUSANDS for count in (men, women)],
)
_SURNAMES = Weighted([(prefix, own) for prefix, own, _ in name_data.SURNAMES],
                     [weight for *_, weight in name_data.SURNAMES])
_COHORTS = sorted(name_data.GIVEN_NAMES, reverse=True)


@dataclass
class Household:
    number: int  # the index of its first member
    place: Place
    postcode: str  # "1234 AB"
    street: str
    house_number: int
    lat: float
    lon: float

    @property
    def pc4(self) -> int:
        return int(self.postcode[:4])


@dataclass
class Person:
    index: int
    bsn: str
    sex: str  # "male" or "female"
    birth_date: date
    age: int
    given: tuple[str, ...]  # official first names
    call_name: str  # roepnaam
    prefix: str  # own surname prefix ("van der"), may be empty
    surname: str  # own surname without prefix
    household: Household
    partner: Person | None = None
    name_usage: str = "NL1"  # humanname-assembly-order: NL1 own name, NL2 partner's, NL3/NL4 combined
    children: list[Person] = field(default_factory=list)

    @property
    def own_family(self) -> str:
        return f"{self.prefix} {self.surname}".strip()

    @property
    def family(self) -> str:
        """The family name as used, following the name usage (naamgebruik)."""
        if self.partner is None or self.name_usage == "NL1":
            return self.own_family
        partner = self.partner.own_family
        return {"NL2": partner, "NL3": f"{partner}-{self.own_family}", "NL4": f"{self.own_family}-{partner}"}[
            self.name_usage]


def make_block(seed: int, block: int, size: int, places: Weighted[Place]) -> list[Person]:
    """The people of one block (indices ``block * HOUSEHOLD_BLOCK`` onwards), with their households."""
    rng = derived_random(seed, HOUSEHOLDS, block)
    first = block * pop.HOUSEHOLD_BLOCK
    people = [_draw_person(rng, seed, first + n) for n in range(size)]
    children = [p for p in people if p.age < pop.ADULT_AGE or rng.random() < pop.YOUNG_AT_HOME.get(p.age, 0.0)]
    child_ids = {id(p) for p in children}
    adults = [p for p in people if id(p) not in child_ids]
    units = _couples(rng, adults)
    _place_children(rng, sorted(children, key=lambda p: -p.age), units)
    for unit in units:
        _settle(rng, unit, places)
    return people


def _draw_person(rng: random.Random, seed: int, index: int) -> Person:
    sex, group = _AGE_SEX.pick(rng)
    if group == len(pop.CBS_2024_THOUSANDS) - 1:
        age = min(pop.OLDEST_AGE, 95 + int(rng.expovariate(0.45)))
    else:
        age = group * pop.AGE_GROUP_YEARS + rng.randrange(pop.AGE_GROUP_YEARS)
    birth = REFERENCE_DATE - timedelta(days=age * 365 + age // 4 + rng.randrange(1, 365))
    formal, call = _given_names(rng, sex, birth.year)
    prefix, surname = _SURNAMES.pick(rng)
    placeholder = Household(index, _NOWHERE, "", "", 0, 0.0, 0.0)
    return Person(index, synthetic_bsn(seed, index), sex, birth, age, formal, call, prefix, surname, placeholder)


def _given_names(rng: random.Random, sex: str, year: int) -> tuple[tuple[str, ...], str]:
    """Official first names (one to three, more for older people) and the call name."""
    cohort = next(c for c in _COHORTS if year >= c) if year >= _COHORTS[-1] else _COHORTS[-1]
    options = name_data.GIVEN_NAMES[cohort][sex]
    formal, call = rng.choice(options)
    count = 1 + (rng.random() < (0.8 if year < 1960 else 0.5)) + (rng.random() < (0.4 if year < 1960 else 0.1))
    extra = [rng.choice(options)[0] for _ in range(count - 1)]
    return tuple(dict.fromkeys([formal, *extra])), call


def _partner_chance(age: int) -> float:
    return next(share for limit, share in pop.PARTNERED if age < limit)


def _couples(rng: random.Random, adults: list[Person]) -> list[list[Person]]:
    """Group the adults into couples of similar age and singles; each group is one household unit."""
    free = sorted(adults, key=lambda p: p.age)
    units: list[list[Person]] = []
    while free:
        person = free.pop(rng.randrange(len(free)))
        partner = None
        if rng.random() < _partner_chance(person.age):
            same_sex = rng.random() < pop.SAME_SEX_COUPLES
            fitting = [p for p in free if (p.sex == person.sex) == same_sex and abs(p.age - person.age) <= 12]
            if fitting:
                partner = min(fitting, key=lambda p: abs(p.age - person.age - (2 if person.sex == "male" else -2)))
                free.remove(partner)
        if partner is None:
            units.append([person])
            continue
        person.partner, partner.partner = partner, person
        for member in (person, partner):
            member.name_usage = _name_usage(rng, member)
        units.append([person, partner])
    return units


def _name_usage(rng: random.Random, person: Person) -> str:
    """Women born before 1975 often use their partner's name; younger people and men seldom do."""
    draw = rng.random()
    if person.sex == "female" and person.birth_date.year < 1975:
        return "NL3" if draw < 0.35 else "NL2" if draw < 0.5 else "NL4" if draw < 0.55 else "NL1"
    return "NL3" if draw < 0.05 else "NL1"


def _place_children(rng: random.Random, children: list[Person], units: list[list[Person]]) -> None:
    """Give each child a parent unit whose adults are 20 to 45 years older.

    Units that already have one or two children are preferred (siblings), couples over single
    parents, and no unit gets more than four children while another fits.
    """
    kids = [0] * len(units)
    adult_units = range(len(units))  # units made later, of children without any adult, take no children
    for child in children:
        fitting = [n for n in adult_units if 20 <= _mother_age(units[n]) - child.age <= 45 and kids[n] < 4]
        if fitting:
            chosen = Weighted(fitting, [_FAMILY_WEIGHT[kids[n]] * (1.0 if units[n][0].partner else 0.3)
                                        for n in fitting]).pick(rng)
        elif adult_units:
            chosen = min(adult_units, key=lambda n: abs(_mother_age(units[n]) - child.age - 30))
        else:
            units.append([child])
            continue
        unit = units[chosen]
        adults = unit[:2] if unit[0].partner is not None else unit[:1]
        parent = next((p for p in adults if p.sex == "male" and p.age - child.age >= 18), adults[0])
        child.prefix, child.surname = parent.prefix, parent.surname
        parent.children.append(child)
        unit.append(child)
        kids[chosen] += 1


_FAMILY_WEIGHT = (1.0, 2.5, 1.2, 0.3, 0.1)  # by the number of children a unit has so far


def _mother_age(unit: list[Person]) -> int:
    adults = unit[:2] if unit[0].partner is not None else unit[:1]
    women = [p.age for p in adults if p.sex == "female"]
    return min(women) if women else min(p.age for p in adults)


def _settle(rng: random.Random, unit: list[Person], places: Weighted[Place]) -> None:
    place = places.pick(rng)
    postcode = rng.choice(place.postcodes)
    household = Household(unit[0].index, place, f"{postcode.code} {rng.choice(_LETTERS)}",
                          rng.choice(name_data.STREETS), 1 + int(rng.expovariate(1 / 40)), postcode.lat, postcode.lon)
    for member in unit:
        member.household = household


_NOWHERE = Place("", "", "", 0, (Postcode(0, 0.0, 0.0),))
