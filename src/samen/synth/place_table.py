"""Reading a PC4 table (``--places``) and an optional table of inhabitants per place (``--population``).

The PC4 table has one row per postcode of a place: province, place, 4-digit postcode, latitude and
longitude, with a header naming the columns (other columns are ignored). The layout of
``shared/data/nl/zipcodes.csv`` (``USPS`` province, ``NAME`` place, ``ZCTA5`` postcode, ``LAT``,
``LON``) is accepted as it is. A postcode that lies in two places is a row for each, with the part's
own position; repeated rows of the same place and postcode are merged (their mean position).

People are spread over places by inhabitants. A PC4 table says nothing of them, so each postcode
counts for the national mean, 17.9 million people over about 4,070 PC4 areas; a population table
gives a place its own number instead.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from statistics import fmean

from samen.synth.data.places import PROVINCES
from samen.synth.places import Place, Postcode

PEOPLE_PER_POSTCODE = 4_400  # CBS: 17,942,942 inhabitants on 1 January 2024 / about 4,070 PC4 areas
PLACE_COLUMNS = {
    "province": ("province", "provincie", "usps"),
    "place": ("place", "woonplaats", "name"),
    "postcode": ("postcode", "pc4", "zcta5"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon"),
}
POPULATION_COLUMNS = {
    "province": ("province", "provincie", "stname"),
    "place": ("place", "woonplaats", "name"),
    "inhabitants": ("inhabitants", "inwoners", "tot_pop"),
}
_PROVINCE_NAMES = {**{p.lower(): p for p in PROVINCES}, "fryslân": "Friesland"}
_NETHERLANDS = ((50.7, 53.7), (3.2, 7.3))  # latitude and longitude bounds, mainland and Wadden


def read_places(path: Path, population: Path | None = None) -> tuple[Place, ...]:
    """The places of a PC4 table, sorted by province and name; ValueError naming the line of bad input."""
    positions: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for line, row in _rows(path, PLACE_COLUMNS):
        where = f"{path}:{line}"
        code = row["postcode"].strip()
        if not (code.isdigit() and len(code) == 4 and code[0] != "0"):
            raise ValueError(f"{where}: {code!r} is not a 4-digit postcode")
        lat, lon = _number(row["latitude"], where), _number(row["longitude"], where)
        if not (_NETHERLANDS[0][0] <= lat <= _NETHERLANDS[0][1] and _NETHERLANDS[1][0] <= lon <= _NETHERLANDS[1][1]):
            raise ValueError(f"{where}: ({lat}, {lon}) is not in the Netherlands")
        positions[(_province(row["province"], where), _place_name(row["place"], where))][int(code)].append((lat, lon))
    if not positions:
        raise ValueError(f"{path}: no postcodes")
    inhabitants = read_population(population) if population else {}
    places = []
    for (province, name), codes in sorted(positions.items()):
        postcodes = tuple(Postcode(code, round(fmean(p[0] for p in points), 5), round(fmean(p[1] for p in points), 5))
                          for code, points in sorted(codes.items()))
        people = inhabitants.get((province, name.lower()), PEOPLE_PER_POSTCODE * len(postcodes))
        places.append(Place(province, "", name, people, postcodes))
    return tuple(places)


def read_population(path: Path) -> dict[tuple[str, str], int]:
    """Inhabitants per (province, lower-case place name); ValueError naming the line of bad input."""
    inhabitants: dict[tuple[str, str], int] = {}
    for line, row in _rows(path, POPULATION_COLUMNS):
        where = f"{path}:{line}"
        count = _number(row["inhabitants"], where)
        if count < 0 or count != int(count):
            raise ValueError(f"{where}: {row['inhabitants']!r} is not a number of inhabitants")
        inhabitants[(_province(row["province"], where), _place_name(row["place"], where).lower())] = int(count)
    return inhabitants


def _rows(path: Path, columns: dict[str, tuple[str, ...]]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data row, the columns found by any of their names."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        index = {}
        for column, names in columns.items():
            found = next((header.index(name) for name in names if name in header), None)
            if found is None:
                raise ValueError(f"{path}: no {column} column (one of: {', '.join(names)})")
            index[column] = found
        for row in reader:
            if any(cell.strip() for cell in row):
                if len(row) <= max(index.values()):
                    raise ValueError(f"{path}:{reader.line_num}: too few columns")
                yield reader.line_num, {column: row[at] for column, at in index.items()}


def _province(text: str, where: str) -> str:
    province = _PROVINCE_NAMES.get(text.strip().lower())
    if province is None:
        raise ValueError(f"{where}: unknown province {text!r}; expected one of: {', '.join(PROVINCES)}")
    return province


def _place_name(text: str, where: str) -> str:
    name = text.strip()
    if not name:
        raise ValueError(f"{where}: no place name")
    return name


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
