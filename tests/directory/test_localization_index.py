"""The localization index over HTTP: registration, search, deletion, refusals and objections."""

from __future__ import annotations

from pathlib import Path

import pytest
from joserfc.jwk import ECKey
from auth.orgs import get_token
from localization_nodes import HOSPITAL_URA, PGO_URA, PRACTICE_URA, REQUESTER_URA, BSNS, Network, network

from samen.auth.policy import LOCALIZATION_OBJECTION, LOCALIZATION_REGISTER
from samen.directory.categories import SYSTEM as CATEGORY_SYSTEM
from samen.directory.localization_client import LocalizationError, Registration, registration_list
from samen.directory.pseudonyms import TOKEN_SYSTEM, recipient_pseudonym, seal
from samen.fhir.model import Model
from samen.sample import BSN as BSN_SYSTEM


@pytest.fixture
def net(tmp_path: Path, database_url: str, model: Model) -> Network:
    with network(tmp_path, database_url, model) as running:
        yield running


def _register(net: Network, ura: str, bsn: str, *categories: str) -> list[str]:
    token = net.tokens([bsn], ura)[0]
    return net.client(ura).register([Registration(token, category, ura) for category in categories])


def _found(net: Network, bsn: str, categories: list[str] | None = None) -> set[tuple[str, str]]:
    token = net.tokens([bsn], REQUESTER_URA)[0]
    return {(loc.custodian, loc.category) for loc in net.client(REQUESTER_URA).search(token, categories)}


def _count(net: Network) -> int:
    with net.index.store.session() as session:
        return session.conn.execute("SELECT count(*) FROM nvi_registration")[0][0]


def test_registration_and_search_by_person_and_category(net: Network) -> None:
    ids = _register(net, HOSPITAL_URA, BSNS[0], "ObservationLaboratory", "Condition")
    _register(net, PRACTICE_URA, BSNS[0], "Condition")
    _register(net, PRACTICE_URA, BSNS[1], "MedicationRequest")
    assert len(ids) == 2
    assert _found(net, BSNS[0]) == {(HOSPITAL_URA, "ObservationLaboratory"), (HOSPITAL_URA, "Condition"),
                                    (PRACTICE_URA, "Condition")}
    assert _found(net, BSNS[0], ["Condition"]) == {(HOSPITAL_URA, "Condition"), (PRACTICE_URA, "Condition")}
    assert _found(net, BSNS[0], ["Condition", "ObservationLaboratory"]) == _found(net, BSNS[0])
    assert _found(net, BSNS[1]) == {(PRACTICE_URA, "MedicationRequest")}
    assert _found(net, BSNS[2]) == set()


def test_search_echoes_the_requesters_token_and_get_works_too(net: Network) -> None:
    _register(net, HOSPITAL_URA, BSNS[0], "Condition")
    token = net.tokens([BSNS[0]], REQUESTER_URA)[0]
    answer = net.post(REQUESTER_URA, "List", "localization-search", "system/List.rs", method="GET",
                      params={"subject:identifier": f"{TOKEN_SYSTEM}|{token}", "code": f"{CATEGORY_SYSTEM}|Condition"})
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert bundle["total"] == 1
    resource = bundle["entry"][0]["resource"]
    assert resource["subject"]["identifier"] == {"system": TOKEN_SYSTEM, "value": token}
    assert (resource["status"], resource["mode"]) == ("current", "working")
    read = net.post(REQUESTER_URA, f"List/{resource['id']}", "localization-search", "system/List.rs", method="GET")
    assert read.status_code == 200 and "subject" not in read.json()  # no token to give back on a read


def test_registering_twice_is_idempotent(net: Network) -> None:
    first = _register(net, HOSPITAL_URA, BSNS[0], "Condition")
    token = net.tokens([BSNS[0]])[0]  # a new token for the same person
    answer = net.post(HOSPITAL_URA, "List", LOCALIZATION_REGISTER, "system/List.cruds",
                      json=registration_list(token, "Condition", HOSPITAL_URA))
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == first[0]
    assert _count(net) == 1


def test_a_token_for_another_recipient_is_refused(net: Network) -> None:
    other_recipient = ECKey.generate_key("P-256", {"use": "enc"}, private=True, auto_kid=True)
    token = seal(recipient_pseudonym(b"s" * 32, BSNS[0], PRACTICE_URA), other_recipient)
    with pytest.raises(LocalizationError) as refused:
        net.client(HOSPITAL_URA).register([Registration(token, "Condition", HOSPITAL_URA)])
    assert refused.value.status == 422
    with pytest.raises(LocalizationError) as refused:
        net.client(REQUESTER_URA).search(token)
    assert refused.value.status == 400
    tampered = net.tokens([BSNS[0]])[0]
    tampered = tampered[:-3] + ("AAA" if not tampered.endswith("AAA") else "BBB")
    with pytest.raises(LocalizationError) as refused:
        net.client(REQUESTER_URA).search(tampered)
    assert refused.value.status == 400
    assert _count(net) == 0


def test_delete_by_id_and_by_parameters_only_ones_own(net: Network) -> None:
    hospital_ids = _register(net, HOSPITAL_URA, BSNS[0], "Condition", "Encounter", "Procedure")
    practice_ids = _register(net, PRACTICE_URA, BSNS[0], "Condition")
    with pytest.raises(LocalizationError) as refused:
        net.client(HOSPITAL_URA).delete(practice_ids[0])
    assert refused.value.status == 403
    net.client(HOSPITAL_URA).delete(hospital_ids[2])
    assert (HOSPITAL_URA, "Procedure") not in _found(net, BSNS[0])
    with pytest.raises(LocalizationError) as missing:
        net.client(HOSPITAL_URA).delete(hospital_ids[2])
    assert missing.value.status == 404
    net.client(HOSPITAL_URA).deregister(net.tokens([BSNS[0]])[0], "Encounter")
    assert _found(net, BSNS[0]) == {(HOSPITAL_URA, "Condition"), (PRACTICE_URA, "Condition")}
    net.client(HOSPITAL_URA).deregister(net.tokens([BSNS[0]])[0])  # every category, the hospital's only
    assert _found(net, BSNS[0]) == {(PRACTICE_URA, "Condition")}
    token = net.tokens([BSNS[0]])[0]
    answer = net.post(HOSPITAL_URA, "List", LOCALIZATION_REGISTER, "system/List.cruds", method="DELETE",
                      params={"subject:identifier": f"{TOKEN_SYSTEM}|{token}", "custodian": PRACTICE_URA})
    assert answer.status_code == 403
    assert _found(net, BSNS[0]) == {(PRACTICE_URA, "Condition")}


def test_registering_for_another_custodian_is_refused(net: Network) -> None:
    token = net.tokens([BSNS[0]])[0]
    with pytest.raises(LocalizationError) as refused:
        net.client(HOSPITAL_URA).register([Registration(token, "Condition", PRACTICE_URA)])
    assert refused.value.status == 403
    assert _count(net) == 0


def test_a_requester_cannot_register_with_a_search_token(net: Network) -> None:
    token = net.tokens([BSNS[0]])[0]
    answer = net.post(HOSPITAL_URA, "List", "localization-search", "system/List.rs",
                      json=registration_list(token, "Condition", HOSPITAL_URA))
    assert answer.status_code == 403
    assert _count(net) == 0


def _bad_lists(token: str) -> list[dict]:
    good = registration_list(token, "Condition", HOSPITAL_URA)
    return [
        {**good, "status": "retired"},
        {**good, "mode": "snapshot"},
        {**good, "code": {"coding": [{"system": CATEGORY_SYSTEM, "code": "NoSuchCategory"}]}},
        {**good, "code": {"coding": [{"system": "http://loinc.org", "code": "Condition"}]}},
        {**good, "subject": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSNS[0]}}},
        {**good, "subject": {"reference": "Patient/1"}},
        {**good, "extension": []},
        {**good, "note": [{"text": "BSN 999911120"}]},
        {**good, "entry": [{"item": {"reference": "Observation/1"}}]},
        {**good, "emptyReason": {"coding": [{"code": "notstarted"}]}},
        {**good, "subject": {"identifier": {"system": TOKEN_SYSTEM, "value": "not-a-jwe"}}},
    ]


def test_bad_lists_are_refused_and_change_nothing(net: Network) -> None:
    token = net.tokens([BSNS[0]])[0]
    for bad in _bad_lists(token):
        answer = net.post(HOSPITAL_URA, "List", LOCALIZATION_REGISTER, "system/List.cruds", json=bad)
        assert answer.status_code in (400, 422), (bad, answer.text)
        assert answer.json()["resourceType"] == "OperationOutcome"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": registration_list(token, "Condition", HOSPITAL_URA), "request": {"method": "POST", "url": "List"}},
        {"resource": _bad_lists(token)[0], "request": {"method": "POST", "url": "List"}}]}
    answer = net.post(HOSPITAL_URA, "", LOCALIZATION_REGISTER, "system/List.cruds", json=bundle)
    assert answer.status_code == 422, answer.text
    assert _count(net) == 0


def test_search_needs_the_person_and_known_parameters(net: Network) -> None:
    for params in ({"code": "Condition"}, {"subject:identifier": "x|y"}, {"subject:identifier": f"{TOKEN_SYSTEM}|t",
                                                                          "name": "x"}):
        answer = net.post(REQUESTER_URA, "List", "localization-search", "system/List.rs", method="GET", params=params)
        assert answer.status_code in (400, 403), (params, answer.text)


def _objection(net: Network, bsn: str, objects: bool) -> int:
    """The citizen's own objection at the pseudonymiser, passed on to the index; registrations removed."""
    answer = net.object(bsn, objects)
    assert answer.status_code == 200, answer.text
    return {p["name"]: p.get("valueInteger") for p in answer.json()["parameter"]}["removed"]


def test_an_objection_removes_and_refuses_registrations_until_withdrawn(net: Network) -> None:
    _register(net, HOSPITAL_URA, BSNS[0], "Condition")
    _register(net, HOSPITAL_URA, BSNS[1], "Condition")
    assert _objection(net, BSNS[0], True) == 1
    assert _found(net, BSNS[0]) == set() and _found(net, BSNS[1]) == {(HOSPITAL_URA, "Condition")}
    with pytest.raises(LocalizationError) as refused:
        _register(net, PRACTICE_URA, BSNS[0], "Condition")
    assert refused.value.status == 409
    _objection(net, BSNS[0], False)
    _register(net, PRACTICE_URA, BSNS[0], "Condition")
    assert _found(net, BSNS[0]) == {(PRACTICE_URA, "Condition")}


def _objection_at_the_index(net: Network, ura: str, bsn: str, objects: bool, purpose: str) -> int:
    token = net.tokens([bsn], ura)[0]
    return net.post(ura, "$objection", purpose, "system/List.d", json={
        "resourceType": "Parameters", "parameter": [{"name": "token", "valueIdentifier": {"system": TOKEN_SYSTEM,
                                                                                          "value": token}},
                                                    {"name": "objection", "valueBoolean": objects}]}).status_code


def test_no_organisation_but_the_pseudonymiser_records_or_withdraws_objections_at_the_index(net: Network) -> None:
    """A hostile organisation must not withdraw a citizen's objection (and then register them), nor object for them."""
    _objection(net, BSNS[0], True)
    _register(net, HOSPITAL_URA, BSNS[1], "Condition")
    for ura in (HOSPITAL_URA, PGO_URA, REQUESTER_URA):
        assert _objection_at_the_index(net, ura, BSNS[0], False, LOCALIZATION_OBJECTION) == 403, ura
        assert _objection_at_the_index(net, ura, BSNS[1], True, LOCALIZATION_OBJECTION) == 403, ura
    assert _objection_at_the_index(net, HOSPITAL_URA, BSNS[0], False, LOCALIZATION_REGISTER) == 403
    with pytest.raises(LocalizationError) as refused:  # the objection stands
        _register(net, PRACTICE_URA, BSNS[0], "Condition")
    assert refused.value.status == 409
    assert _found(net, BSNS[1]) == {(HOSPITAL_URA, "Condition")}


def test_the_pseudonymiser_takes_an_objection_from_the_citizen_for_the_citizen_only(net: Network) -> None:
    _register(net, HOSPITAL_URA, BSNS[1], "Condition")
    organisation = get_token(net.pseudonymiser.settings.base_url, net.orgs[PGO_URA], scopes="system/List.d",
                             purpose=LOCALIZATION_OBJECTION)
    naming = {"resourceType": "Parameters", "parameter": [
        {"name": "objection", "valueBoolean": True},
        {"name": "patient", "valueIdentifier": {"system": BSN_SYSTEM, "value": BSNS[1]}}]}
    refusals = {
        "an organisation's token": net.object(BSNS[1], True, token=organisation),
        "no token": net.object(BSNS[1], True, token="not-a-token"),
        "a body naming a person": net.object(BSNS[0], True, json=naming),
        "a URL parameter": net.object(BSNS[0], True, params={"patient": BSNS[1]}),
        "no objection flag": net.object(BSNS[0], True, json={"resourceType": "Parameters", "parameter": [
            {"name": "objection", "valueString": "true"}]}),
    }
    assert {why: answer.status_code for why, answer in refusals.items()} == {
        "an organisation's token": 403, "no token": 401, "a body naming a person": 400, "a URL parameter": 400,
        "no objection flag": 400}
    assert _found(net, BSNS[1]) == {(HOSPITAL_URA, "Condition")}


def test_the_operator_records_and_withdraws_an_objection_with_the_cli(net: Network) -> None:
    from click.testing import CliRunner

    from samen.cli import main

    _register(net, HOSPITAL_URA, BSNS[0], "Condition")
    token = net.tokens([BSNS[0]], PGO_URA)[0]
    options = ["nvi", "objection", "--db", net.db_url, "--keys", net.index.settings.keys_dir, "--token", token]
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0 and "1 registration(s) removed" in result.output, result.output
    assert _found(net, BSNS[0]) == set()
    result = CliRunner().invoke(main, [*options, "--withdraw"])
    assert result.exit_code == 0 and "withdrawn" in result.output, result.output
    _register(net, PRACTICE_URA, BSNS[0], "Condition")
    assert _found(net, BSNS[0]) == {(PRACTICE_URA, "Condition")}
    refused = CliRunner().invoke(main, [*options[:-1], "not-a-token"])
    assert refused.exit_code != 0
