"""Places and postcodes: the embedded ones are real, a PC4 table (--places) is followed exactly, regions select."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import manifest, resources, tree_bytes
from test_population import population

from samen.cli import main
from samen.synth.place_table import PEOPLE_PER_POSTCODE, read_places, read_population
from samen.synth.places import EMBEDDED_PLACES, places_in
from samen.synth.providers import distance_km
from samen.synth.run import SynthOptions, generate

SHARED_NL = Path(__file__).resolve().parents[3] / "shared" / "data" / "nl"
ZIPCODES = SHARED_NL / "zipcodes.csv"
needs_zipcodes = pytest.mark.skipif(not ZIPCODES.exists(), reason="shared/data/nl/zipcodes.csv is not present")

TABLE = """,USPS,ST,NAME,ZCTA5,LAT,LON
0,Zuid-holland,11,Rotterdam,3011,51.9200,4.4800
1,Zuid-holland,11,Rotterdam,3011,51.9200,4.4800
2,Zuid-holland,11,Rotterdam,3012,51.9100,4.4600
3,Zuid-holland,11,Spijkenisse,3201,51.8500,4.3300
4,Zuid-holland,11,Hekelingen,3201,51.8300,4.3400
5,Utrecht,09,Utrecht,3511,52.0900,5.1200
"""


def real_postcodes() -> dict[tuple[str, str], set[int]]:
    """(province, place) -> its PC4 codes, from the shared table."""
    codes: dict[tuple[str, str], set[int]] = defaultdict(set)
    with open(ZIPCODES, newline="") as handle:
        for row in csv.DictReader(handle):
            codes[(row["USPS"].lower(), row["NAME"])].add(int(row["ZCTA5"]))
    return codes


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@needs_zipcodes
def test_every_embedded_postcode_exists_in_its_place_and_province() -> None:
    real = real_postcodes()
    for place in EMBEDDED_PLACES:
        codes = {p.code for p in place.postcodes}
        assert codes and codes <= real[(place.province.lower(), place.name)], place.name


@needs_zipcodes
def test_embedded_positions_lie_in_their_place() -> None:
    """An embedded postcode's position is within 3.5 km of a real PC4 centre of the same place."""
    with open(ZIPCODES, newline="") as handle:
        centres = defaultdict(list)
        for row in csv.DictReader(handle):
            centres[row["NAME"]].append((float(row["LAT"]), float(row["LON"])))
    for place in EMBEDDED_PLACES:
        for postcode in place.postcodes:
            nearest = min(distance_km(postcode.lat, postcode.lon, *c) for c in centres[place.name])
            assert nearest <= 3.5, (place.name, postcode.code, nearest)


@needs_zipcodes
@pytest.mark.parametrize("table", [None, ZIPCODES], ids=["embedded", "places"])
def test_every_generated_postcode_exists_in_zipcodes_and_agrees_with_city_and_position(table: Path | None) -> None:
    places = EMBEDDED_PLACES if table is None else read_places(table)
    real = real_postcodes()
    people = population(3000, seed=4, places=places)
    for person in people:
        home = person.household
        assert home.pc4 in real[(home.place.province.lower(), home.place.name)], (home.place.name, home.postcode)
        postcode = next(p for p in home.place.postcodes if p.code == home.pc4)
        assert (home.lat, home.lon) == (postcode.lat, postcode.lon)
    assert len({p.household.pc4 for p in people}) > 500  # spread over many places and postcodes


@needs_zipcodes
def test_zipcodes_csv_is_read_whole_with_its_own_positions() -> None:
    places = read_places(ZIPCODES)
    assert sum(len(p.postcodes) for p in places) == len({(p.province, p.name, c) for p in places
                                                          for c in (q.code for q in p.postcodes)})
    assert len({c.code for p in places for c in p.postcodes}) == 4069
    assen = next(p for p in places if p.name == "Assen")
    assert assen.province == "Drenthe" and assen.postcodes[0].code == 9401
    assert (assen.postcodes[0].lat, assen.postcodes[0].lon) == (52.9938, 6.5623)


def test_a_table_merges_repeated_rows_and_keeps_a_postcode_shared_by_two_places(tmp_path: Path) -> None:
    places = {p.name: p for p in read_places(write(tmp_path / "pc4.csv", TABLE))}
    assert [c.code for c in places["Rotterdam"].postcodes] == [3011, 3012]
    assert places["Spijkenisse"].postcodes[0].code == places["Hekelingen"].postcodes[0].code == 3201
    assert places["Hekelingen"].postcodes[0].lat == 51.83
    assert places["Rotterdam"].province == "Zuid-Holland" and places["Rotterdam"].municipality == ""
    assert places["Rotterdam"].inhabitants == 2 * PEOPLE_PER_POSTCODE


def test_plain_column_names_and_a_population_table(tmp_path: Path) -> None:
    table = write(tmp_path / "pc4.csv", "postcode,place,province,latitude,longitude\n"
                                        "3011,Rotterdam,Zuid-Holland,51.92,4.48\n3511,Utrecht,utrecht,52.09,5.12\n")
    population = write(tmp_path / "people.csv", "NAME,STNAME,TOT_POP\nRotterdam,Zuid-holland,598199\n")
    places = {p.name: p for p in read_places(table, population)}
    assert places["Rotterdam"].inhabitants == 598_199
    assert places["Utrecht"].inhabitants == PEOPLE_PER_POSTCODE
    assert read_population(population) == {("Zuid-Holland", "rotterdam"): 598_199}


@pytest.mark.parametrize(("text", "message"), [
    ("place,postcode,latitude,longitude\nX,3011,51.9,4.4\n", "no province column"),
    ("province,place,postcode,lat,lon\nZuid-Holland,X,301,51.9,4.4\n", ":2: '301' is not a 4-digit postcode"),
    ("province,place,postcode,lat,lon\nAtlantis,X,3011,51.9,4.4\n", ":2: unknown province 'Atlantis'"),
    ("province,place,postcode,lat,lon\nZuid-Holland,X,3011,12.1,-68.9\n", "is not in the Netherlands"),
    ("province,place,postcode,lat,lon\nZuid-Holland,X,3011,noord,4.4\n", "'noord' is not a number"),
    ("province,place,postcode,lat,lon\n", "no postcodes"),
])
def test_bad_tables_are_refused_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_places(write(tmp_path / "bad.csv", text))


def test_regions_select_table_places_by_province_and_care_region_by_name(tmp_path: Path) -> None:
    places = read_places(write(tmp_path / "pc4.csv", TABLE))
    assert {p.name for p in places_in(places, "zuid-holland")} == {"Rotterdam", "Spijkenisse", "Hekelingen"}
    # Spijkenisse is an embedded place of Nissewaard; Hekelingen (also Nissewaard) is not known to be
    assert {p.name for p in places_in(places, "Rotterdam-Rijnmond")} == {"Rotterdam", "Spijkenisse"}
    with pytest.raises(ValueError, match="no places of Limburg"):
        places_in(places, "Limburg")


def test_cli_runs_on_a_place_table_deterministically(tmp_path: Path) -> None:
    table = write(tmp_path / "pc4.csv", TABLE)
    runs = []
    for name in ("a", "b"):
        args = ["synth", "--people", "80", "--seed", "2", "--places", str(table), "--out", str(tmp_path / name),
                "--no-progress", "--workers", "1"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        runs.append(tree_bytes(tmp_path / name))
    assert runs[0] == runs[1]
    listed = manifest(tmp_path / "a")
    assert listed["placeTable"]["file"] == "pc4.csv" and listed["populationTable"] is None
    patients = [r for c in listed["custodians"] if c["kind"] == "gp" for r in resources(tmp_path / "a" / c["folder"])
                if r["resourceType"] == "Patient"]
    allowed = {("3011", "Rotterdam"), ("3012", "Rotterdam"), ("3201", "Spijkenisse"), ("3201", "Hekelingen"),
               ("3511", "Utrecht")}
    homes = {(a["postalCode"][:4], a["city"]) for p in patients for a in p["address"]}
    assert homes <= allowed and len(homes) > 2
    assert all("district" not in a for p in patients for a in p["address"])


def test_cli_refuses_a_population_without_places_and_a_region_without_places(tmp_path: Path) -> None:
    table = write(tmp_path / "pc4.csv", TABLE)
    alone = CliRunner().invoke(main, ["synth", "--people", "5", "--population", str(table), "--out",
                                      str(tmp_path / "x")])
    assert alone.exit_code == 2 and "needs a place table" in alone.output
    empty = CliRunner().invoke(main, ["synth", "--people", "5", "--places", str(table), "--region", "Limburg",
                                      "--out", str(tmp_path / "y")])
    assert empty.exit_code == 2 and "no places of Limburg" in empty.output


def test_generate_reads_the_table_in_every_worker(tmp_path: Path) -> None:
    """Two worker processes read the same table and give the same bytes as one."""
    table = write(tmp_path / "pc4.csv", TABLE)
    for name, workers in (("one", 1), ("two", 2)):
        generate(SynthOptions(people=2100, seed=3, places=table, out=tmp_path / name, workers=workers))
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
