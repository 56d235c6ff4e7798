"""Search over HTTP: Bundle shape, paging links, POST _search, compartments, strict handling."""

from __future__ import annotations

import httpx
from fixtures import BSN, observation, patient


def _load(fhir: httpx.Client, entries: list[dict]) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = fhir.post("", json=bundle)
    assert response.status_code == 200, response.text


def _creates(resources: list[dict]) -> list[dict]:
    return [{"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in resources]


def test_searchset_bundle(fhir: httpx.Client) -> None:
    _load(fhir, _creates([patient(family="Sánchez"), patient(family="Jansen", bsn="123456782")]))
    bundle = fhir.get("Patient", params={"family": "sanchez"}).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert bundle["total"] == 1
    entry = bundle["entry"][0]
    assert entry["search"]["mode"] == "match"
    assert entry["fullUrl"] == f"{fhir.base_url}Patient/{entry['resource']['id']}"
    assert any(link["relation"] == "self" for link in bundle["link"])


def test_paging_through_matches_returns_each_exactly_once(fhir: httpx.Client) -> None:
    _load(fhir, _creates([patient(family=f"Fam{i:03d}", bsn=str(100000000 + i)) for i in range(120)]))
    seen: list[str] = []
    url: str | None = str(fhir.base_url) + "Patient?_count=25"
    pages = 0
    while url:
        page = httpx.get(url).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        pages += 1
    assert pages == 5
    assert len(seen) == 120 and len(set(seen)) == 120


def test_post_search_equals_get_search(fhir: httpx.Client) -> None:
    _load(fhir, _creates([patient(family="Visser"), patient(family="Mulder", bsn="123456782")]))
    posted = fhir.post("Patient/_search", data={"family": "Visser"}).json()
    got = fhir.get("Patient", params={"family": "Visser"}).json()
    assert posted["total"] == got["total"] == 1
    assert posted["entry"][0]["resource"]["id"] == got["entry"][0]["resource"]["id"]


def test_patient_compartment_search(fhir: httpx.Client) -> None:
    a = fhir.post("Patient", json=patient()).json()
    b = fhir.post("Patient", json=patient(bsn="123456782")).json()
    fhir.post("Observation", json=observation(f"Patient/{a['id']}"))
    fhir.post("Observation", json=observation(f"Patient/{b['id']}"))
    bundle = fhir.get(f"Patient/{a['id']}/Observation").json()
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{a['id']}"


def test_unknown_parameter_lenient_warns_strict_refuses(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient())
    lenient = fhir.get("Patient", params={"colour": "blue"})
    assert lenient.status_code == 200
    outcomes = [e for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert "colour" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    strict = fhir.get("Patient", params={"colour": "blue"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"


def test_bad_search_value_is_400(fhir: httpx.Client) -> None:
    assert fhir.get("Patient", params={"birthdate": "gt1950-13-45"}).status_code == 400


def test_sql_significant_characters_are_data(fhir: httpx.Client) -> None:
    fhir.post("Patient", json=patient(family="O'Brien"))
    for value in ["' OR 1=1 --", "%", "_", "\\", "x'); DROP TABLE resource; --"]:
        response = fhir.get("Patient", params={"family": value})
        assert response.status_code == 200 and response.json()["total"] == 0
    assert fhir.get("Patient", params={"family": "o'br"}).json()["total"] == 1
    assert fhir.get("Patient", params={"identifier": f"{BSN}|999911120"}).json()["total"] == 1


def test_summary_count_and_elements_in_search(fhir: httpx.Client) -> None:
    _load(fhir, _creates([patient(family="Kok"), patient(family="Kok", bsn="123456782")]))
    count = fhir.get("Patient", params={"family": "Kok", "_summary": "count"}).json()
    assert count["total"] == 2 and "entry" not in count
    elements = fhir.get("Patient", params={"family": "Kok", "_elements": "name"}).json()
    assert all(set(e["resource"]) == {"resourceType", "id", "meta", "name"} for e in elements["entry"])


def test_deleted_resource_absent_from_search_but_in_history(fhir: httpx.Client) -> None:
    created = fhir.post("Patient", json=patient(family="Weg")).json()
    fhir.delete(f"Patient/{created['id']}")
    assert fhir.get("Patient", params={"family": "Weg"}).json()["total"] == 0
    assert fhir.get("Patient", params={"_id": created["id"]}).json()["total"] == 0
    history = fhir.get(f"Patient/{created['id']}/_history").json()
    assert history["total"] == 2


def test_include(fhir: httpx.Client) -> None:
    p = fhir.post("Patient", json=patient()).json()
    fhir.post("Observation", json=observation(f"Patient/{p['id']}"))
    bundle = fhir.get("Observation", params={"_include": "Observation:subject"}).json()
    modes = sorted(e["search"]["mode"] for e in bundle["entry"])
    assert modes == ["include", "match"]
