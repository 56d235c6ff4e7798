"""Adversarial review of the localization index: grants of other use cases, malformed Lists, objection races."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from auth.orgs import Organisation, identity, write_trust_list
from joserfc.jwk import ECKey

from samen.api.messages import FhirRequest
from samen.audit import store as audit_store
from samen.auth.context import AccessContext, Professional
from samen.directory.localization import storage
from samen.directory.localization_client import registration_list
from samen.directory.pseudonyms import TOKEN_SYSTEM, is_ura, recipient_pseudonym, seal
from samen.fhir.model import Model
from samen.fhir.outcome import FhirError
from samen.node import Node
from samen.sample import BSN as BSN_SYSTEM
from samen.sample import URA, elfproef
from samen.settings import Settings
from samen.store.db import Database

NVI_URA, HOSPITAL_URA = "90000901", "11110001"
BSN = "999911120"
BASE = "http://127.0.0.1:9/fhir"


@pytest.fixture
def index(tmp_path: Path, database_url: str, model: Model) -> Iterator[Node]:
    """An index node in process (not open mode); requests go through its router with a given access context."""
    nvi = Organisation.create(tmp_path, NVI_URA, "Nationale Verwijsindex", "V4")
    hospital = Organisation.create(tmp_path, HOSPITAL_URA, "Ziekenhuis Oost", "V4")
    trust = write_trust_list(tmp_path / "trust.json", [nvi.entry(), hospital.entry()])
    node = Node.open(database_url, Settings(base_url=BASE, roles=("localization-index",), **identity(nvi, trust)),
                     model)
    try:
        yield node
    finally:
        node.close()


def _token(node: Node, bsn: str = BSN) -> str:
    return seal(recipient_pseudonym(b"s" * 32, bsn, NVI_URA), node.services["localization-index"].key)


def _system(purpose: str, scopes: str, **extra: Any) -> AccessContext:
    return AccessContext(kind="system", scopes=frozenset({scopes}), client_ura=HOSPITAL_URA, client_type="V4",
                         purpose=purpose, **extra)


REGISTER = _system("localization-register", "system/List.cruds")


def _call(node: Node, method: str, path: str, access: AccessContext, params: list[tuple[str, str]] | None = None,
          body: Any = None) -> tuple[int, Any]:
    request = FhirRequest(method, path, params or [], body=body, base_url=BASE, access=access)
    try:
        response = node.router.handle(request)
    except FhirError as error:
        return error.status, error.issues[0].diagnostics
    return response.status, response.body


def _count(node: Node) -> int:
    with node.store.session() as session:
        return session.conn.execute("SELECT count(*) FROM nvi_registration")[0][0]


def test_grants_of_other_use_cases_do_not_reach_the_registrations(index: Node) -> None:
    """The provider cannot honour a patient compartment or a Task scope, so such grants are refused."""
    status, created = _call(index, "POST", "List", REGISTER, body=registration_list(_token(index), "Condition",
                                                                                     HOSPITAL_URA))
    assert status == 201
    citizen = AccessContext(kind="patient", scopes=frozenset({"patient/*.rs"}), client_ura="pgo-demo",
                            purpose="patient-self", patient_ids=frozenset({"p1"}))
    receiver = _system("eoverdracht-receiver", "system/*.rs", task="Task/1",
                       professional=Professional("900000001", "30.000", HOSPITAL_URA))
    search = [("subject:identifier", f"{TOKEN_SYSTEM}|{_token(index)}")]
    for access in (citizen, receiver):
        assert _call(index, "GET", f"List/{created['id']}", access)[0] == 403, access.purpose
        assert _call(index, "GET", "List", access, search)[0] == 403, access.purpose
    assert _call(index, "GET", "List", _system("localization-search", "system/List.rs"), search)[0] == 200


def _malformed(good: dict[str, Any]) -> list[dict[str, Any]]:
    bad: list[dict[str, Any]] = []
    for junk in (1, True, 1.5, "x", {"a": 1}):
        for path in (("extension",), ("code", "coding"), ("emptyReason", "coding"), ("code", "coding", 0, "code"),
                     ("extension", 0, "valueReference", "identifier", "value"), ("subject", "identifier")):
            resource = copy.deepcopy(good)
            target: Any = resource
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = junk
            bad.append(resource)
    for junk in ([], ["Condition"], [None]):
        resource = copy.deepcopy(good)
        resource["code"]["coding"][0]["code"] = junk
        bad.append(resource)
    return bad


def test_malformed_lists_are_a_4xx_and_change_nothing(index: Node) -> None:
    good = registration_list(_token(index), "Condition", HOSPITAL_URA)
    for resource in _malformed(good):
        status, answer = _call(index, "POST", "List", REGISTER, body=resource)
        assert status in (400, 422), (resource, answer)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": good, "request": {"method": "POST", "url": "List"}},
        {"resource": _malformed(good)[1], "request": {"method": "POST", "url": "List"}}]}
    assert _call(index, "POST", "", REGISTER, body=bundle)[0] in (400, 422)
    assert _count(index) == 0


def _audited(node: Node) -> list[tuple[str, str]]:
    """(action, outcome) of every entry on the index's audit trail."""
    node.services["audit"].flush()
    with node.store.session() as session:
        return [(entry.action, entry.outcome) for entry in audit_store.entries(session.conn)]


def _bundle(*lists: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"resource": resource, "request": {"method": "POST", "url": "List"}} for resource in lists]}


def test_a_transaction_of_lists_is_written_at_once_and_answers_as_single_creates(
        index: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk path: one call for the Bundle's creates (one at a time is switched off here), each entry
    answered and audited as a single create: 201 new, 200 the same registration made before (also earlier
    in the same Bundle)."""
    def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a transaction of Lists is registered at once")

    monkeypatch.setattr(storage, "register", one_at_a_time)
    first, second = _token(index), _token(index, "999990007")
    lists = [registration_list(first, "Condition", HOSPITAL_URA), registration_list(second, "Condition", HOSPITAL_URA),
             registration_list(_token(index), "Condition", HOSPITAL_URA)]
    audited = len(_audited(index))
    status, body = _call(index, "POST", "", REGISTER, body=_bundle(*lists))
    assert status == 200, body
    answer = orjson.loads(body)
    statuses = [entry["response"]["status"] for entry in answer["entry"]]
    locations = [entry["response"]["location"] for entry in answer["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK"] and locations[2] == locations[0]
    assert [e["resource"]["subject"]["identifier"]["value"] for e in answer["entry"]][:2] == [first, second]
    assert _audited(index)[audited:] == [("C", "0")] * 3  # one entry per Bundle entry
    again = orjson.loads(_call(index, "POST", "", REGISTER, body=_bundle(*lists))[1])
    assert [entry["response"]["status"] for entry in again["entry"]] == ["200 OK"] * 3
    assert [entry["response"]["location"] for entry in again["entry"]] == [locations[0], locations[1], locations[0]]
    assert _count(index) == 2


def test_a_transaction_with_an_objector_fails_whole_and_names_the_entry(index: Node) -> None:
    with index.store.session(write=True) as session:
        storage.object_to_registration(session.conn, recipient_pseudonym(b"s" * 32, "999990007", NVI_URA))
    lists = [registration_list(_token(index), "Condition", HOSPITAL_URA),
             registration_list(_token(index, "999990007"), "Condition", HOSPITAL_URA)]
    status, diagnostics = _call(index, "POST", "", REGISTER, body=_bundle(*lists))
    assert status == 409 and diagnostics.startswith("Bundle.entry[1]"), diagnostics
    assert _count(index) == 0


def test_a_transaction_entry_for_another_custodian_is_refused_and_audited_as_that_entry(index: Node) -> None:
    lists = [registration_list(_token(index), "Condition", HOSPITAL_URA),
             registration_list(_token(index), "Encounter", "22220002")]
    audited = len(_audited(index))
    status, _ = _call(index, "POST", "", REGISTER, body=_bundle(*lists))
    assert status == 403 and _count(index) == 0
    assert _audited(index)[audited:] == [("C", "8")]  # the refused entry (a create, refused by policy)


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")  # digits to isdigit() and int(), not to a URA


def test_digits_of_other_scripts_are_no_ura_and_no_bsn(index: Node) -> None:
    assert elfproef(BSN) and not elfproef(BSN.translate(ARABIC_INDIC))
    assert not is_ura(HOSPITAL_URA.translate(ARABIC_INDIC))
    foreign = registration_list(_token(index), "Condition", HOSPITAL_URA.translate(ARABIC_INDIC))
    assert _call(index, "POST", "List", REGISTER, body=foreign)[0] == 422  # not a URA at all (was: another one)
    search = [("subject:identifier", f"{TOKEN_SYSTEM}|{_token(index)}"),
              ("custodian", HOSPITAL_URA.translate(ARABIC_INDIC))]
    assert _call(index, "GET", "List", _system("localization-search", "system/List.rs"), search)[0] == 400
    assert _count(index) == 0


def test_an_index_that_names_no_pseudonymiser_takes_no_objections(index: Node) -> None:
    """Deny by default: without settings.pseudonymiser there is no organisation objections may come from."""
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "token", "valueIdentifier": {"system": TOKEN_SYSTEM, "value": _token(index)}},
        {"name": "objection", "valueBoolean": True}]}
    assert _call(index, "POST", "$objection", _system("localization-objection", "system/List.d"), body=body)[0] == 403
    with index.store.session() as session:
        assert session.conn.execute("SELECT count(*) FROM nvi_objection")[0][0] == 0


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _transaction(database: Database, work: Any, hold: threading.Event | None = None) -> Any:
    with database.connection(write=True) as conn:
        conn.begin(write=True)
        try:
            result = work(conn)
            if hold is not None:
                hold.wait(10)
            conn.commit()
            return result
        except BaseException:
            conn.rollback()
            raise


def test_an_objection_removes_a_registration_being_made_at_the_same_time(database: Database) -> None:
    pseudonym = b"p" * 32
    release = threading.Event()
    registering, registered = _in_thread(lambda: _transaction(
        database, lambda conn: storage.register(conn, pseudonym, "Condition", HOSPITAL_URA), release))
    time.sleep(0.3)  # the registration is made, not committed
    objecting, objected = _in_thread(lambda: _transaction(
        database, lambda conn: storage.object_to_registration(conn, pseudonym)))
    time.sleep(0.3)
    release.set()
    registering.join(10)
    objecting.join(10)
    assert not isinstance(registered[0], Exception) and objected == [1]
    with database.connection() as conn:
        assert storage.find(conn, pseudonym) == []


def test_a_registration_waits_for_an_objection_being_recorded(database: Database) -> None:
    pseudonym = b"q" * 32
    release = threading.Event()
    objecting, _ = _in_thread(lambda: _transaction(
        database, lambda conn: storage.object_to_registration(conn, pseudonym), release))
    time.sleep(0.3)  # the objection is recorded, not committed
    registering, registered = _in_thread(lambda: _transaction(
        database, lambda conn: storage.register(conn, pseudonym, "Encounter", HOSPITAL_URA)))
    time.sleep(0.3)
    release.set()
    objecting.join(10)
    registering.join(10)
    assert isinstance(registered[0], storage.Objected), registered
    with database.connection() as conn:
        assert storage.find(conn, pseudonym) == []


def test_the_pseudonymiser_refuses_parameters_in_the_url(tmp_path: Path, database_url: str, model: Model) -> None:
    """A BSN in the URL ends up in the request's audit entry: refused, so a careless client notices at once."""
    prs = Organisation.create(tmp_path, "90000902", "Pseudonimiseringsdienst", "V4")
    hospital = Organisation.create(tmp_path, HOSPITAL_URA, "Ziekenhuis Oost", "V4")
    trust = write_trust_list(tmp_path / "trust.json", [prs.entry(), hospital.entry()])
    node = Node.open(database_url, Settings(base_url=BASE, roles=("pseudonymiser",), **identity(prs, trust)), model)
    try:
        service = node.services["pseudonymiser"]
        recipient = ECKey.generate_key("P-256", private=True)
        service.recipients._cache[HOSPITAL_URA] = (ECKey.import_key(recipient.as_dict(private=False)), time.monotonic())
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "identifier", "valueIdentifier": {"system": BSN_SYSTEM, "value": BSN}},
            {"name": "recipient", "valueIdentifier": {"system": URA, "value": HOSPITAL_URA}}]}
        access = _system("pseudonymisation", "system/Parameters.c")
        assert _call(node, "POST", "$pseudonymize", access, body=body)[0] == 200
        status, diagnostics = _call(node, "POST", "$pseudonymize", access, [("identifier", BSN)], body=body)
        assert status == 400 and BSN not in diagnostics
    finally:
        node.close()
