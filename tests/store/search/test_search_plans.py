"""The SQL shapes: whichever filter drives (``rid IN``) and whichever are checked (``EXISTS``), the
answer is the same; the SQL is index lookups with placeholders only; merged range bounds only where
a parameter has one value per resource."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from search_bed import BSN, Bed, add_world, observation, patient

from samen.fhir.model import Model
from samen.store.schema import POSTGRES, SQLITE
from samen.store.search import parse_search
from samen.store.search import compile as compile_module
from samen.store.search.compile import compile_query
from samen.store.search.params import AllOf, IndexFilter

QUERIES = [
    ("Observation", "subject=Patient/pa&code=8867-4"),
    ("Observation", "code=8867-4&value-quantity=gt70&date=ge2024"),
    ("Observation", "subject:Patient.family=sanchez&code=8867-4,1234-5"),
    ("Observation", "subject:Patient.name=jansen&subject:Patient.organization.name=zieken"),
    ("Observation", "patient.family=jansen&_has:Provenance:target:agent=Practitioner/dr1"),
    ("Observation", "code:not=1234-5&subject:missing=false"),
    ("Observation", "code=8867-4&subject._id=pa,g1"),
    ("Observation", "_list=l1&code=1234-5"),
    ("Patient", "_has:Observation:patient:code=8867-4&family=jansen"),
    ("Patient", "_has:Observation:subject:code=1234-5&_has:Observation:subject:code=8867-4"),
    ("Patient", "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/dr1&organization=org2"),
    ("Patient", "family=jansen&organization:missing=true"),
    ("Patient", "_list=l1&family=jansen,sanchez"),
    ("Patient", "organization.partof.name=ziekenhuis&general-practitioner=Practitioner/dr1"),
    ("Patient", "_id=pa,pb&family=jansen"),
    ("Organization", "_has:Patient:organization:family=jansen&name=ziek"),
    ("Encounter", "subject=pa&date=ge2000"),
    ("Observation", "subject=Patient/pa&code-value-quantity=8867-4$gt70"),
    ("Observation", "code-value-quantity=8867-4$gt70,1234-5$lt10&date=2024"),
    ("Patient", "family=sanchez&_has:Observation:subject:code=5555-5"),  # only Group/pa has such one
    ("Patient", "family=sanchez&_has:Observation:subject:code=1234-5"),
]


@pytest.fixture
def world(bed: Bed) -> Bed:
    add_world(bed)
    bed.add_all(
        [
            observation("Patient/pb", value=90, when="2023-01-01", id="o8"),
            observation("Patient/pc", id="o9"),
            {"resourceType": "Group", "id": "pa", "type": "person", "actual": True},  # a Group with a Patient's id
            observation("Group/pa", code="5555-5", id="o10"),
        ]
    )
    return bed


def _answers(bed: Bed) -> list[set[str]]:
    return [bed.ids(res_type, params) for res_type, params in QUERIES]


@pytest.fixture
def policies(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Set the driver choice: "normal", "none" (everything checked), "first" or "last" drivable."""
    original = compile_module._Compiler.choose_driver

    def use(policy: str) -> None:
        def choose(self, filters, row_available):  # type: ignore[no-untyped-def]
            if policy == "normal":
                return original(self, filters, row_available)
            if policy == "none":
                return None
            drivable = [i for i, f in enumerate(filters) if compile_module._can_drive(f)]
            if not drivable:
                return None
            return drivable[0] if policy == "first" else drivable[-1]

        monkeypatch.setattr(compile_module._Compiler, "choose_driver", choose)

    yield use
    monkeypatch.setattr(compile_module._Compiler, "choose_driver", original)


def test_every_plan_gives_the_same_answer(world: Bed, policies) -> None:  # type: ignore[no-untyped-def]
    expected = _answers(world)
    assert all(isinstance(a, set) for a in expected)
    assert sum(map(len, expected)) > 15, expected  # the battery finds things
    for policy in ("none", "first", "last"):
        policies(policy)
        found = _answers(world)
        for (res_type, params), want, got in zip(QUERIES, expected, found, strict=True):
            assert got == want, f"{policy}: {res_type}?{params}"
    policies("normal")


def test_answers_of_the_battery(world: Bed) -> None:
    """A few of the battery pinned down, so that 'the same answer' is also the right one."""
    answers = dict(zip((f"{t}?{p}" for t, p in QUERIES), _answers(world), strict=True))
    assert answers["Observation?subject=Patient/pa&code=8867-4"] == {"o1"}
    assert answers["Observation?subject:Patient.family=sanchez&code=8867-4,1234-5"] == {"o1", "o3"}
    assert answers["Observation?code=8867-4&subject._id=pa,g1"] == {"o1", "o5"}
    assert answers["Patient?_has:Observation:patient:code=8867-4&family=jansen"] == {"pc", "pb"}
    assert answers["Patient?_has:Observation:subject:code=1234-5&_has:Observation:subject:code=8867-4"] == {"pa", "pb"}
    assert answers["Patient?_id=pa,pb&family=jansen"] == {"pb"}
    assert answers["Organization?_has:Patient:organization:family=jansen&name=ziek"] == {"org1"}
    assert answers["Observation?code:not=1234-5&subject:missing=false"] == {"o1", "o4", "o5", "o6", "o8", "o9", "o10"}
    assert answers["Observation?subject=Patient/pa&code-value-quantity=8867-4$gt70"] == {"o1"}
    assert answers["Patient?family=sanchez&_has:Observation:subject:code=5555-5"] == set()
    assert answers["Patient?family=sanchez&_has:Observation:subject:code=1234-5"] == {"pa"}


def test_the_driver_is_the_most_selective_filter(bed: Bed) -> None:
    bed.add_all([patient(f"p{i}", family="Jansen", gender="female",
                         identifier=[{"system": BSN, "value": str(i)}]) for i in range(300)])
    query = bed.query("Patient", f"gender=female&family=jansen&identifier={BSN}|7")
    probed = compile_query(SQLITE, query, frozenset(bed.model.resource_types), lambda sql, args: _count(bed, sql, args))
    assert re.search(r"r\.rid IN \(SELECT t\d+\.rid FROM idx_token t\d+ WHERE .* AND t\d+\.code = \?", probed.where)
    assert probed.where.count(" IN (SELECT") == 1 and probed.where.count("EXISTS") == 2
    assert "r.res_type" not in probed.where  # the driver keeps to Patient
    assert bed.ids("Patient", f"gender=female&family=jansen&identifier={BSN}|7") == {"p7"}


def _count(bed: Bed, sql: str, args: list) -> int:
    bed.conn.begin(write=False)
    try:
        return bed.conn.execute(sql, args)[0][0]
    finally:
        bed.conn.rollback()


def test_sql_has_placeholders_only(model: Model) -> None:
    nasty = "x'); DROP TABLE resource; --%_\\"
    params = [("family", nasty), ("family:contains", nasty), ("identifier", f"{nasty}|{nasty}"), ("_id", nasty),
              ("general-practitioner", nasty), ("_has:Observation:patient:code", nasty), ("organization.name", nasty),
              ("_profile:above", "http://x/" + nasty), ("_list", nasty), ("_sort", "family,-birthdate")]
    query = parse_search(model, "Patient", params)
    for dialect in (SQLITE, POSTGRES):
        compiled = compile_query(dialect, query, frozenset(model.resource_types))
        sql, args = compiled.page(10, 0)
        assert "DROP" not in sql and "'x" not in sql and nasty not in sql
        assert sql.count("?") == len(args)
        assert all(literal in ("'List'", "'item'", "'\\'") for literal in re.findall(r"'[^']*'", sql))


def test_bounds_merge_only_for_single_valued_parameters(model: Model) -> None:
    birth = parse_search(model, "Patient", [("birthdate", "ge1950"), ("birthdate", "lt1960")])
    assert len(birth.filters) == 1 and isinstance(birth.filters[0].matches[0], AllOf)  # type: ignore[union-attr]
    # Observation.effective may be a Timing: two date rows; and comma lists stay as they are
    for res_type, params in [("Observation", [("date", "ge2020"), ("date", "lt2021")]),
                             ("Patient", [("birthdate", "ge1950,le1940"), ("birthdate", "lt1960")]),
                             ("Patient", [("birthdate", "ge1950"), ("death-date", "lt1960")])]:
        query = parse_search(model, res_type, params)
        assert len(query.filters) == 2
        assert all(isinstance(f, IndexFilter) and not isinstance(f.matches[0], AllOf) for f in query.filters)


def test_merged_bounds_give_the_same_answer(bed: Bed) -> None:
    bed.add_all([patient(f"y{year}", birthDate=f"{year}-06-15") for year in range(1940, 1970)])
    assert bed.ids("Patient", "birthdate=ge1950&birthdate=lt1953") == {"y1950", "y1951", "y1952"}
    assert bed.ids("Patient", "birthdate=ge1950&birthdate=lt1953&birthdate=ne1951") == {"y1950", "y1952"}
    assert bed.ids("Patient", "birthdate=sa1968&birthdate=eb1970") == {"y1969"}
