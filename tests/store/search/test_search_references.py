"""References: every value form, ``:Type``, ``:identifier``, chains, ``_has``, compartments, ``_list``,
``_include``/``_revinclude`` with ``:iterate``."""

from __future__ import annotations

import orjson
import pytest
from search_bed import BASE, Bed, add_world

from samen.fhir.model import Model
from samen.store.search import SearchError, parse_search


@pytest.fixture
def world(bed: Bed) -> Bed:
    add_world(bed)
    return bed


def test_reference_forms(world: Bed) -> None:
    assert world.ids("Observation", "subject=Patient/pa") == {"o1", "o3"}
    assert world.ids("Observation", "subject=pa") == {"o1", "o3"}
    assert world.ids("Observation", "subject:Patient=pa") == {"o1", "o3"}
    assert world.ids("Observation", "subject:Group=pa") == set()
    assert world.ids("Observation", "subject:Group=g1") == {"o5"}
    assert world.ids("Observation", f"subject={BASE}/Patient/pa") == {"o1", "o3"}  # our own base: relative
    assert world.ids("Observation", "subject=Patient/pa/_history/4") == {"o1", "o3"}
    assert world.ids("Observation", "subject=http://other.org/fhir/Patient/zz") == {"o4"}
    assert world.ids("Observation", "subject=Patient/pa,Group/g1") == {"o1", "o3", "o5"}
    assert world.ids("Observation", "patient=Patient/pb") == {"o2"}
    assert world.ids("Observation", "subject:missing=true") == {"o7"}
    assert world.ids("Patient", "general-practitioner:identifier=urn:agb|123") == {"pc"}
    assert world.ids("Patient", "general-practitioner:identifier=123") == {"pc"}
    assert world.ids("Patient", "general-practitioner=Practitioner/dr1") == {"pa"}


def test_chains(world: Bed) -> None:
    assert world.ids("Observation", "subject:Patient.family=sanchez") == {"o1", "o3"}
    assert world.ids("Observation", "subject:Patient.name=jansen") == {"o2", "o6"}
    assert world.ids("Observation", "subject.name=jansen") == {"o2", "o6"}  # Group, Device, Location: no 'name'
    assert world.ids("Observation", "subject._id=g1,pa") == {"o1", "o3", "o5"}  # every target type has _id
    assert world.ids("Observation", "patient.family=jansen&code=1234-5") == {"o2"}
    # two and three links
    assert world.ids("Observation", "subject:Patient.organization.name=ziekenhuis") == {"o2"}
    assert world.ids("Observation", "subject:Patient.organization.partof.name=ziekenhuis") == {"o1", "o3"}
    assert world.ids("Observation", "subject:Patient.organization:Organization.name=huisarts") == {"o1", "o3"}
    assert world.ids("Observation", "subject:Patient.organization.name:exact=Ziekenhuis Oost") == {"o2"}
    assert world.ids("Observation", "subject:Patient._id=pb") == {"o2"}
    assert world.ids("Observation", "subject:Patient.birthdate:missing=true&code=1234-5") == {"o2", "o3"}
    with pytest.raises(SearchError):
        world.query("Observation", "subject:Patient.organization.partof.partof.name=x")


def test_reverse_chains(world: Bed) -> None:
    assert world.ids("Patient", "_has:Observation:patient:code=8867-4") == {"pa", "pc"}
    assert world.ids("Patient", "_has:Observation:subject:code=1234-5") == {"pa", "pb"}
    assert world.ids("Patient", "_has:Observation:performer:code=8867-4") == {"pb"}
    assert world.ids("Patient", "_has:Observation:patient:code=9999-9") == set()
    # nested: patients with an observation that a provenance by dr1 points at
    assert world.ids("Patient", "_has:Observation:patient:_has:Provenance:target:agent=Practitioner/dr1") == {"pa"}
    assert world.ids("Practitioner", "_has:Patient:general-practitioner:family=sanchez") == {"dr1"}
    assert world.ids("Organization", "_has:Patient:organization:_id=pb") == {"org1"}
    assert world.ids("Organization", "_has:Organization:partof:name=huisarts") == {"org1"}
    with pytest.raises(SearchError):
        world.query("Patient", "_has:Observation:code=1234")  # no reference parameter named


def test_compartment(world: Bed) -> None:
    assert world.ids("Observation", compartment=("Patient", "pb")) == {"o2", "o6"}  # subject and performer
    assert world.ids("Observation", compartment=("Patient", "pa")) == {"o1", "o3"}
    assert world.ids("Observation", "code=1234-5", compartment=("Patient", "pa")) == {"o3"}
    assert world.ids("Patient", compartment=("Patient", "pa")) == {"pa"}
    assert world.ids(None, compartment=("Patient", "pa")) == {"pa", "o1", "o3", "e1"}
    assert world.ids(None, "_type=Encounter", compartment=("Patient", "pa")) == {"e1"}
    assert world.ids("Organization", compartment=("Patient", "pa")) == set()
    assert world.ids("Observation", compartment=("Patient", "nobody")) == set()


def test_list(world: Bed) -> None:
    assert world.ids("Patient", "_list=l1") == {"pa", "pc"}
    assert world.ids("Observation", "_list=l1") == {"o2"}
    assert world.ids("Patient", "_list=l1&family=jansen") == {"pc"}
    assert world.ids("Patient", "_list=nope") == set()


def test_deleted_resources_never_match(world: Bed) -> None:
    world.delete("Observation", "o3")
    world.delete("Patient", "pb")
    assert world.ids("Observation", "subject=Patient/pa") == {"o1"}
    assert world.ids("Observation", "_id=o3") == set()
    assert world.ids("Observation", "subject:Patient.name=jansen") == {"o6"}  # pb is gone
    assert world.ids("Patient", "_has:Observation:subject:code=1234-5") == set()
    assert world.ids("Patient", "family=jansen") == {"pc"}
    assert "o3" not in world.ids("Observation")
    result = world.search("Patient", "_id=pa&_revinclude=Observation:subject")
    assert {row.res_id for row in result.included} == {"o1"}


def _included(world: Bed, res_type: str, params: str) -> tuple[set[str], set[str]]:
    result = world.search(res_type, params)
    matches = {f"{row.res_type}/{row.res_id}" for row in result.matches}
    included = [f"{row.res_type}/{row.res_id}" for row in result.included]
    assert len(included) == len(set(included)), "an included resource twice"
    assert not matches & set(included), "a match also included"
    for row in result.included:
        assert orjson.loads(row.content)["id"] == row.res_id
    return matches, set(included)


def test_include(world: Bed) -> None:
    matches, included = _included(world, "Observation", "code=1234-5&_include=Observation:subject")
    assert matches == {"Observation/o2", "Observation/o3"}
    assert included == {"Patient/pb", "Patient/pa"}
    assert _included(world, "Observation", "_id=o5,o1&_include=Observation:subject:Group")[1] == {"Group/g1"}
    assert _included(world, "Observation", "_id=o1&_include=Observation:patient")[1] == {"Patient/pa"}
    # a non-iterating include applies to the matches only
    assert _included(world, "Observation", "_id=o1&_include=Observation:subject&_include=Patient:organization")[1] == {
        "Patient/pa"
    }
    assert _included(world, "Patient", "_id=pa&_include=*")[1] == {"Organization/org2", "Practitioner/dr1"}
    # an included resource that is a match too is not repeated
    assert _included(world, "Organization", "_include=Organization:partof")[1] == set()
    # a reference to nothing stored includes nothing
    assert _included(world, "Observation", "_id=o4&_include=Observation:subject")[1] == set()


def test_include_iterate(world: Bed) -> None:
    params = "_id=o1&_include=Observation:subject&_include:iterate=Patient:organization&_include:iterate=Organization:partof"
    assert _included(world, "Observation", params)[1] == {"Patient/pa", "Organization/org2", "Organization/org1"}
    params = "_id=o1&_include:iterate=*"
    assert _included(world, "Observation", params)[1] == {
        "Patient/pa", "Organization/org2", "Organization/org1", "Practitioner/dr1"
    }


def test_revinclude(world: Bed) -> None:
    assert _included(world, "Patient", "_id=pa&_revinclude=Observation:subject")[1] == {
        "Observation/o1", "Observation/o3"
    }
    assert _included(world, "Patient", "_id=pa&_revinclude=Observation:subject&_revinclude=Provenance:target")[1] == {
        "Observation/o1", "Observation/o3"
    }
    params = "_id=pa&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target"
    assert _included(world, "Patient", params)[1] == {"Observation/o1", "Observation/o3", "Provenance/prov1"}
    params = "_id=org1&_revinclude:iterate=Organization:partof&_revinclude:iterate=Patient:organization"
    assert _included(world, "Organization", params)[1] == {"Organization/org2", "Patient/pa", "Patient/pb"}
    assert _included(world, "Practitioner", "_revinclude=Patient:general-practitioner")[1] == {"Patient/pa"}


def test_include_is_refused_when_malformed(model: Model) -> None:
    for value in ["Observation", "Observation:subject:Banana", "Banana:subject", "a:b:c:d"]:
        with pytest.raises(SearchError):
            parse_search(model, "Observation", [("_include", value)])
    with pytest.raises(SearchError):
        parse_search(model, "Observation", [("_include:deep", "Observation:subject")])
    lenient = parse_search(model, "Observation", [("_include", "Observation:colour")])
    assert lenient.includes == [] and "colour" in lenient.warnings[0]
    with pytest.raises(SearchError):
        parse_search(model, "Observation", [("_include", "Observation:colour")], strict=True)
