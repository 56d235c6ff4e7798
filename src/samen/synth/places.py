"""Where people live: places with their 4-digit postcodes and positions, and the regions that select them.

A place comes from the embedded table (:mod:`samen.synth.data.places`) or from a PC4 table given with
``--places`` (:mod:`samen.synth.place_table`). Each postcode carries its own position, so a person's
postcode, place and coordinates always agree: with a PC4 table the positions are the table's; the
embedded places have real centres only, so their postcodes get a fixed point within the place's
built-up radius around the centre.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from samen.synth.data.places import NATIONAL, PLACE_TABLE, PROVINCES, REGION_MUNICIPALITIES

# People per km² of built-up area in a Dutch town (a round figure): sets the radius the embedded
# places' postcodes are spread over, about 7.7 km for Amsterdam and 1 km for a place of 15,000.
_URBAN_DENSITY = 5_000
_KM_PER_DEGREE = 111.2


@dataclass(frozen=True)
class Postcode:
    code: int  # PC4
    lat: float
    lon: float


@dataclass(frozen=True)
class Place:
    province: str
    municipality: str  # "" when the source does not say
    name: str  # the woonplaats
    inhabitants: int
    postcodes: tuple[Postcode, ...]


def region_names() -> list[str]:
    """Every region ``--region`` accepts: the country, the provinces and the care regions."""
    return [NATIONAL, *PROVINCES, *REGION_MUNICIPALITIES]


def canonical_region(region: str) -> str:
    """The region's name as listed (case-insensitive match); ValueError for an unknown region."""
    wanted = {name.lower(): name for name in region_names()}.get(region.lower())
    if wanted is None:
        raise ValueError(f"unknown region {region!r}; choose one of: {', '.join(region_names())}")
    return wanted


def places_in(places: tuple[Place, ...], region: str) -> tuple[Place, ...]:
    """The places of a region; ValueError for an unknown region or one without places.

    A care region is a list of municipalities. A place whose municipality is unknown (a PC4 table has
    none) belongs to it when its name is one of those municipalities or one of their embedded places.
    """
    wanted = canonical_region(region)
    if wanted == NATIONAL:
        selected = places
    elif wanted in REGION_MUNICIPALITIES:
        municipalities = set(REGION_MUNICIPALITIES[wanted])
        names = municipalities | {p.name for p in EMBEDDED_PLACES if p.municipality in municipalities}
        selected = tuple(p for p in places if (p.municipality in municipalities if p.municipality else
                                               p.name in names))
    else:
        selected = tuple(p for p in places if p.province == wanted)
    if not selected:
        raise ValueError(f"no places of {wanted} in the place table")
    return selected


def _embedded_position(lat: float, lon: float, inhabitants: int, code: int) -> tuple[float, float]:
    """A fixed point for an embedded postcode: uniform in the place's built-up disc, the same every run."""
    spread = random.Random(code)
    radius_km = math.sqrt(inhabitants / (math.pi * _URBAN_DENSITY)) * math.sqrt(spread.random())
    angle = spread.uniform(0.0, 2 * math.pi)
    north, east = radius_km * math.cos(angle), radius_km * math.sin(angle)
    return (round(lat + north / _KM_PER_DEGREE, 5),
            round(lon + east / (_KM_PER_DEGREE * math.cos(math.radians(lat))), 5))


def _codes(text: str) -> list[int]:
    """"9711-9718,9721" -> every code of the ranges and single codes."""
    codes: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        codes.extend(range(int(first), int(last or first) + 1))
    return codes


def _embedded() -> tuple[Place, ...]:
    places = []
    for line in PLACE_TABLE.replace(",\n    ", ",").strip().splitlines():
        province, municipality, name, thousands, lat, lon, codes = line.split("|")
        inhabitants = int(thousands) * 1000
        postcodes = tuple(Postcode(code, *_embedded_position(float(lat), float(lon), inhabitants, code))
                          for code in _codes(codes))
        places.append(Place(province, municipality, name, inhabitants, postcodes))
    return tuple(places)


EMBEDDED_PLACES: tuple[Place, ...] = _embedded()
