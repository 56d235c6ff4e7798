"""Result parameters: paging (each match exactly once), ``_sort``, ``_total``, ``_summary``, ``_count``,
strict and lenient handling of unknown parameters, system-level search, paging links."""

from __future__ import annotations

import math
import random

import pytest
from search_bed import Bed, observation, patient

from samen.fhir.model import Model
import samen.store.search.run as run
from samen.store.search import MAX_COUNT, SearchError, SearchQuery, parse_search

FAMILIES = ["Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos"]


@pytest.fixture
def thousand(bed: Bed) -> Bed:
    rng = random.Random(7)
    resources = []
    for i in range(1000):
        extra = {"gender": rng.choice(["male", "female"])}
        if i % 10:  # every tenth has no birthDate
            extra["birthDate"] = f"{rng.randint(1930, 1935)}-{rng.randint(1, 12):02d}"  # many ties
        resources.append(patient(f"p{i:04d}", family=FAMILIES[i % len(FAMILIES)], **extra))
    bed.add_all(resources)
    bed.add_all([observation(f"Patient/p{i:04d}", id=f"o{i}") for i in range(30)])
    return bed


def _walk(bed: Bed, params: list[tuple[str, str]], count: int) -> list[str]:
    """Follow the 'next' links (re-parsed from link_params) from the first page to the last."""
    query = bed.query("Patient", [*params, ("_count", str(count))])
    seen: list[str] = []
    pages = 0
    while True:
        result = bed.run(query)
        pages += 1
        assert result.total in (1000, None)
        assert len(result.matches) == (count if result.has_more else 1000 - len(seen))
        seen += [row.res_id for row in result.matches]
        if not result.has_more:
            break
        query = bed.query("Patient", query.link_params(result.offset + result.count))
        assert pages < 100
    assert pages == math.ceil(1000 / count)
    return seen


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("_sort", "family")],
        [("_sort", "-birthdate,family")],
        [("_sort", "gender,-family,birthdate")],
        [("_sort", "-_lastUpdated")],
        [("_sort", "_id")],
        [("name", "")],  # an empty value is ignored
    ],
    ids=["default", "family", "-birthdate,family", "three-keys", "-lastUpdated", "id", "empty"],
)
def test_paging_through_1000_matches_returns_each_exactly_once(thousand: Bed, params: list[tuple[str, str]]) -> None:
    seen = _walk(thousand, params, 37)
    assert len(seen) == 1000
    assert len(set(seen)) == 1000
    # the pages together are the order of one big page
    assert seen == thousand.ordered("Patient", params)


def test_total_and_has_more(thousand: Bed) -> None:
    result = thousand.search("Patient", "_count=10")
    assert result.total == 1000 and result.has_more and len(result.matches) == 10
    last = thousand.search("Patient", "_count=10&_offset=990")
    assert last.total == 1000 and not last.has_more and len(last.matches) == 10
    beyond = thousand.search("Patient", "_count=10&_offset=5000")
    assert beyond.matches == [] and beyond.total == 1000 and not beyond.has_more
    small = thousand.search("Patient", "family=bakker&_count=500")
    assert small.total == 100 and len(small.matches) == 100 and not small.has_more
    none = thousand.search("Patient", "_total=none&_count=5")
    assert none.total is None and len(none.matches) == 5 and none.has_more
    estimate = thousand.search("Patient", "_total=estimate&family=bos&_count=1")
    assert estimate.total == 100
    count = thousand.search("Patient", "_summary=count&family=smit")
    assert count.total == 100 and count.matches == [] and not count.has_more
    zero = thousand.search("Patient", "_count=0&family=smit")
    assert zero.total == 100 and zero.matches == []
    default = thousand.search("Patient")
    assert len(default.matches) == 20 and default.count == 20


def test_default_total_is_exact_up_to_the_cap(thousand: Bed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "TOTAL_CAP", 50)
    assert thousand.search("Patient", "family=bakker&_count=10").total is None  # 100 matches
    assert thousand.search("Patient", "family=bakker&_count=10&_total=accurate").total == 100
    assert thousand.search("Patient", "family=bakker&_count=10&_total=estimate").total == 100
    assert thousand.search("Patient", "_id=p0002,p0012,p0022&_count=2").total == 3
    # a page beyond the cap: the page query, then a bounded count
    deep = thousand.search("Patient", "family=bakker&_count=10&_offset=60")
    assert deep.total is None and deep.has_more and len(deep.matches) == 10
    deep = thousand.search("Patient", "family=bakker&_count=10&_offset=60&_total=accurate")
    assert deep.total == 100
    last = thousand.search("Patient", "family=bakker&_count=10&_offset=95")
    assert last.total == 100 and not last.has_more and len(last.matches) == 5
    seen = _walk(thousand, [("_sort", "-birthdate")], 23)
    assert len(set(seen)) == 1000


def test_count_is_capped_and_must_be_a_number(model: Model) -> None:
    query = parse_search(model, "Patient", [("_count", "100000")])
    assert query.count == MAX_COUNT and query.warnings
    for name, value in [("_count", "abc"), ("_count", "-1"), ("_offset", "x"), ("_total", "some"), ("_summary", "no")]:
        with pytest.raises(SearchError):
            parse_search(model, "Patient", [(name, value)])


def test_sort_multi_key_with_missing_values_last(bed: Bed) -> None:
    bed.add_all(
        [
            patient("a", family="Bakker", birthDate="1980"),
            patient("b", family="Bakker", birthDate="1990-05-01"),
            patient("c", family="Aarts", birthDate="1970"),
            patient("d", family="Bakker"),
            {"resourceType": "Patient", "id": "e", "birthDate": "1985"},
            patient("f", family="Zwart", birthDate="1990"),
        ]
    )
    assert bed.ordered("Patient", "_sort=family,-birthdate") == ["c", "b", "a", "d", "f", "e"]
    assert bed.ordered("Patient", "_sort=-family,birthdate") == ["f", "a", "b", "d", "c", "e"]
    # ascending by the earliest moment, descending by the latest: 1990 (whole year) ends after 1990-05-01
    assert bed.ordered("Patient", "_sort=birthdate") == ["c", "a", "e", "f", "b", "d"]
    assert bed.ordered("Patient", "_sort=-birthdate") == ["f", "b", "e", "a", "c", "d"]
    assert bed.ordered("Patient", "_sort=-_id") == ["f", "e", "d", "c", "b", "a"]
    assert bed.ordered("Patient", "_sort=family,_id&family=bakker") == ["a", "b", "d"]


def test_sort_by_a_name_with_several_values(bed: Bed) -> None:
    bed.add_all(
        [
            patient("x", family="Mulder", given=["Zoë", "Anna"]),  # smallest given: anna, largest: zoe
            patient("y", family="Mulder", given=["Bram"]),
        ]
    )
    assert bed.ordered("Patient", "_sort=given") == ["x", "y"]
    assert bed.ordered("Patient", "_sort=-given") == ["x", "y"]


def test_unknown_parameters_lenient_and_strict(bed: Bed) -> None:
    bed.add_all([patient("a", family="Visser"), patient("b", family="Kok")])
    lenient = bed.search("Patient", "colour=blue&family=visser")
    assert [row.res_id for row in lenient.matches] == ["a"]
    assert any("colour" in w for w in lenient.warnings)
    for params in ["colour=blue", "_text=x", "_content=x", "_sort=colour", "colour.name=x", "_has:Observation:patient:colour=x",
                   "subject:Patient.name=x", "_filter=x", "near=1|2|3"]:
        query = bed.query("Patient", params)
        assert query.warnings, params
        assert {row.res_id for row in bed.run(query).matches} == {"a", "b"}, params
        with pytest.raises(SearchError) as raised:
            bed.query("Patient", params, strict=True)
        assert raised.value.status == 400
    with pytest.raises(SearchError):
        bed.query("Patient", "family.name=x")  # only references chain
    # parameters that only shape the response are no search parameters, and no warning
    assert bed.query("Patient", "_format=json&_pretty=true&_elements=name&_summary=data").warnings == []


def test_result_parameters_kept_for_the_rest_layer(model: Model) -> None:
    query = parse_search(model, "Patient", [("_summary", "data"), ("_elements", "name, birthDate")])
    assert query.summary == "data" and query.elements == ["name", "birthDate"]
    query = parse_search(model, "Patient", [("_summary", "count")])
    assert query.summary == "count"
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Banana", [])
    assert raised.value.status == 404


def test_link_params_are_canonical(model: Model) -> None:
    params = [("name", "x"), ("_count", "5"), ("colour", "y"), ("birthdate", "ge2000"), ("_sort", "name"),
              ("name", "a,b"), ("_offset", "15")]
    query = parse_search(model, "Patient", params)
    assert query.offset == 15 and query.count == 5
    assert query.link_params(10) == [
        ("_sort", "name"), ("birthdate", "ge2000"), ("name", "x"), ("name", "a,b"), ("_count", "5"), ("_offset", "10")
    ]
    shuffled = parse_search(model, "Patient", list(reversed(params)))
    assert sorted(shuffled.link_params(10)) == sorted(query.link_params(10))
    again = parse_search(model, "Patient", query.link_params(0))
    assert again.link_params(0) == query.link_params(0) and again.offset == 0


def test_system_level(thousand: Bed) -> None:
    bed = thousand
    assert bed.ids(None, "_id=p0001,o1") == {"p0001", "o1"}
    assert bed.ids(None, "_id=p0001,o1&_type=Observation") == {"o1"}
    assert bed.ids(None, "_type=Observation") == {f"o{i}" for i in range(30)}
    # a parameter of only some of the types keeps the others out
    assert bed.ids(None, "_type=Patient,Observation&family=jansen&_id=p0000,p0001,o1") == {"p0000"}
    assert bed.ids(None, "_type=Observation,Patient&_sort=_id&_id=p0001,o1,o2") == {"o1", "o2", "p0001"}
    assert bed.ordered(None, "_type=Observation,Patient&_sort=-_id&_id=p0001,o1,o2") == ["p0001", "o2", "o1"]
    assert bed.search(None, "_count=1").total is None  # more than TOTAL_CAP: not counted unless asked
    assert bed.search(None, "_count=1&_total=accurate").total == 1030
    with pytest.raises(SearchError):
        bed.query(None, "_type=Banana")
    query: SearchQuery = bed.query(None, "_type=Patient,Observation")
    assert query.resource_type is None and set(query.resource_types) == {"Patient", "Observation"}
