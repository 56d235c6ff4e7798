"""The care providers of the synthetic region and who goes where.

The number of providers of each kind follows the population size with Dutch ratios (about one GP
practice per 3,600 inhabitants, one community pharmacy per 9,000, one hospital organisation per
250,000, ...), at least one of each. Providers sit in the region's places in proportion to their
inhabitants (hospitals and mental-health organisations in the largest places). A household is
enrolled with one of the three nearest GP practices and pharmacies (nearer ones more often) and is
served by the nearest hospital, nursing home, home-care and mental-health organisation.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

from samen.synth.data import names as name_data
from samen.synth.data.clinical import SPECIALTIES
from samen.synth.places import Place
from samen.synth.randomness import PROVIDERS, Weighted, derived_random


@dataclass(frozen=True)
class Kind:
    key: str
    folder: str  # Dutch folder prefix
    type_code: str  # RoleCodeNL zorgaanbiedertype
    type_display: str
    agb_kind: str  # AGB zorgverlenersoort of the organisation: the first two digits of its AGB code
    people_per_provider: int
    staff: tuple[tuple[str, int], ...]  # (specialty key, number of professionals)
    name_pattern: str


# AGB zorgverlenersoorten (Vektis AGB register): 01 Huisartsen, 02 Apothekers, 06 Ziekenhuizen,
# 47 Gecombineerde verpleeginrichtingen, 75 Thuiszorginstellingen, 54 GGZ-instellingen (see docs/synth.md).
KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("gp", "huisarts", "Z3", "Huisartspraktijk (zelfstandig of groepspraktijk)", "01", 3_600,
         (("gp", 2), ("practice-nursing", 1)), "Huisartsenpraktijk {name}"),
    Kind("pharmacy", "apotheek", "J8", "Openbare apotheek", "02", 9_000, (("pharmacy", 2),), "Apotheek {name}"),
    Kind("hospital", "ziekenhuis", "V6", "Algemeen ziekenhuis", "06", 250_000,
         (("cardiology", 3), ("pulmonology", 3), ("internal", 3), ("geriatrics", 2), ("ophthalmology", 2),
          ("orthopedics", 2), ("nursing", 2)), "Ziekenhuis {name} {place}"),
    Kind("nursing-home", "verpleeghuis", "R5", "Verpleeghuis", "47", 40_000, (("elderly-care", 2), ("nursing", 2)),
         "Woonzorgcentrum {name}"),
    Kind("home-care", "thuiszorg", "T2", "Thuiszorg", "75", 30_000, (("district-nursing", 3),),
         "Thuiszorg {name} {place}"),
    Kind("mental-health", "ggz", "G5", "Geestelijke Gezondheidszorg", "54", 100_000,
         (("psychiatry", 2), ("psychology", 2)), "GGZ {name} {place}"),
)}
CENTRAL_KINDS = ("hospital", "mental-health")  # placed in the largest places
_MAX_STAFF = 64  # professionals per provider at most: keeps their numbers (and UZI, BIG, AGB) unique
NEAREST_CHOICES = (0.6, 0.25, 0.15)  # enrolment with the nearest, second and third GP practice or pharmacy
_POSTCODE_LETTERS = "ABCDEGHJKLMNPRTVWXZ"


@dataclass(frozen=True)
class Professional:
    number: int  # unique in the network
    uzi: str
    big: str
    agb: str
    sex: str
    given: str
    prefix: str
    surname: str
    specialty: str  # key of SPECIALTIES


@dataclass(frozen=True)
class Provider:
    number: int  # unique in the network
    kind: Kind
    ura: str
    agb: str
    name: str
    place: Place
    postcode: str
    street: str
    house_number: int
    lat: float
    lon: float
    staff: tuple[Professional, ...]

    @property
    def key(self) -> str:
        """The custodian's folder name."""
        return f"{self.kind.folder}-{self.ura}"

    def professional(self, specialty: str, pick: int = 0) -> Professional:
        """A professional of the given specialty (the ``pick``-th, cycling) in this organisation."""
        matching = [p for p in self.staff if p.specialty == specialty]
        return matching[pick % len(matching)]


class ProviderNetwork:
    """All providers of a run; the same seed, region and population size give the same network."""

    def __init__(self, seed: int, places: tuple[Place, ...], people: int) -> None:
        assert all(sum(count for _, count in kind.staff) <= _MAX_STAFF for kind in KINDS.values())
        self.seed = seed
        self.providers: list[Provider] = []
        by_size = sorted(places, key=lambda p: (-p.inhabitants, p.name))
        for kind in KINDS.values():
            count = max(1, round(people / kind.people_per_provider))
            candidates = by_size[:max(1, math.ceil(len(by_size) / 4))] if kind.key in CENTRAL_KINDS else by_size
            for place in _spread(count, candidates):
                self.providers.append(self._provider(kind, place))
        self.by_kind = {key: [p for p in self.providers if p.kind.key == key] for key in KINDS}

    def _provider(self, kind: Kind, place: Place) -> Provider:
        number = len(self.providers)
        rng = derived_random(self.seed, PROVIDERS, number)
        postcode = rng.choice(place.postcodes)
        label = rng.choice(name_data.INSTITUTION_NAMES)
        name = kind.name_pattern.format(name=label, place=place.name)
        staff = tuple(self._professional(rng, number * _MAX_STAFF + n, specialty)
                      for n, specialty in enumerate(s for s, count in kind.staff for _ in range(count)))
        letters = f"{rng.choice(_POSTCODE_LETTERS)}{rng.choice(_POSTCODE_LETTERS)}"
        return Provider(number, kind, ura=_digits(self.seed, 1, number, 8),
                        agb=kind.agb_kind + _unique_digits(self.seed, 2, number, 6), name=name, place=place,
                        postcode=f"{postcode.code} {letters}", street=rng.choice(name_data.STREETS),
                        house_number=rng.randint(1, 200), lat=postcode.lat, lon=postcode.lon, staff=staff)

    def _professional(self, rng: random.Random, number: int, specialty: str) -> Professional:
        sex = rng.choice(("female", "male"))
        cohort = rng.choice((1955, 1975, 1995))
        given = rng.choice(name_data.GIVEN_NAMES[cohort][sex])[1]
        prefix, surname, _ = rng.choice(name_data.SURNAMES)
        agb = SPECIALTIES[specialty].agb_kind + _unique_digits(self.seed, 6, number, 6)
        return Professional(number, uzi=_digits(self.seed, 4, number, 9), big=_digits(self.seed, 5, number, 11),
                            agb=agb, sex=sex, given=given, prefix=prefix, surname=surname, specialty=specialty)

    def nearest(self, kind: str, pc4: int, lat: float, lon: float) -> list[Provider]:
        """The providers of a kind by distance from a postcode (the three nearest at most)."""
        return list(_nearest(self, kind, pc4, lat, lon))

    def enrol(self, rng: random.Random, kind: str, pc4: int, lat: float, lon: float) -> Provider:
        """A GP practice or pharmacy for a household: one of the nearest three, nearer ones more often."""
        options = self.nearest(kind, pc4, lat, lon)
        return Weighted(options, NEAREST_CHOICES[:len(options)]).pick(rng)


@lru_cache(maxsize=65_536)
def _nearest(network: ProviderNetwork, kind: str, pc4: int, lat: float, lon: float) -> tuple[Provider, ...]:
    scale = math.cos(math.radians(lat))
    ranked = sorted(network.by_kind[kind], key=lambda p: ((p.lat - lat) ** 2 + ((p.lon - lon) * scale) ** 2,
                                                         p.number))
    return tuple(ranked[:len(NEAREST_CHOICES)])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), for reports and tests."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _spread(count: int, places: list[Place]) -> list[Place]:
    """``count`` places, each as often as its share of inhabitants says (largest remainders)."""
    total = sum(p.inhabitants for p in places)
    quotas = [count * p.inhabitants / total for p in places]
    result = [int(q) for q in quotas]
    for n in sorted(range(len(places)), key=lambda n: (-(quotas[n] - result[n]), n))[:count - sum(result)]:
        result[n] += 1
    return [place for place, times in zip(places, result) for _ in range(times)]


def _digits(seed: int, purpose: int, number: int, length: int) -> str:
    """A number of ``length`` digits, unique per (purpose, number) for one seed, starting with 9."""
    return "9" + _unique_digits(seed, purpose, number, length - 1)


def _unique_digits(seed: int, purpose: int, number: int, length: int) -> str:
    """``length`` digits, a bijection of ``number`` below 10 ** length (7,654,321 is prime to 10)."""
    space = 10 ** length
    return f"{(number * 7_654_321 + seed * 1_000_003 + purpose * 97) % space:0{length}d}"
