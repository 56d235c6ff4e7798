"""Proof that no plain BSN reaches the index: not its tables, not its logs; and the pseudonymiser's refusals."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from auth.orgs import get_token
from localization_nodes import BSNS, HOSPITAL_URA, NVI_URA, PRACTICE_URA, REQUESTER_URA, network

from samen import logs
from samen.directory.localization_client import Registration
from samen.fhir.model import Model
from samen.sample import BSN as BSN_SYSTEM
from samen.sample import URA


def _encodings(bsn: str) -> list[bytes]:
    """A BSN as it could sit in a column or a log: text, UTF-16, integer bytes, hex, base64."""
    number = int(bsn)
    return [bsn.encode(), bsn.encode("utf-16-le"), number.to_bytes(4, "big"), number.to_bytes(4, "little"),
            number.to_bytes(8, "big"), number.to_bytes(8, "little"), bsn.encode().hex().encode(),
            base64.b64encode(bsn.encode()).rstrip(b"=")]


def _every_value(conn) -> list[bytes]:  # type: ignore[no-untyped-def]
    if conn.dialect.name == "sqlite":
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]
    values: list[bytes] = []
    for table in tables:
        for row in conn.execute(f"SELECT * FROM {table}"):
            for value in row:
                if value is None:
                    continue
                values.append(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
    return values


def test_no_plain_bsn_reaches_the_index_storage_or_logs(tmp_path: Path, database_url: str, model: Model,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    logs.configure("debug", json=True)
    with network(tmp_path, database_url, model) as net:
        capfd.readouterr()  # from here on: what the nodes log while they work
        hospital, practice = net.client(HOSPITAL_URA), net.client(PRACTICE_URA)
        hospital.register([Registration(t, "Condition", HOSPITAL_URA) for t in hospital.pseudonymize(BSNS)])
        practice.register([Registration(t, "MedicationRequest", PRACTICE_URA) for t in practice.pseudonymize(BSNS)])
        requester = net.client(REQUESTER_URA)
        for bsn in BSNS:
            assert len(requester.search(requester.pseudonymize([bsn])[0])) == 2
        practice.deregister(practice.pseudonymize([BSNS[0]])[0])
        with net.index.store.session() as session:
            assert session.conn.execute("SELECT count(*) FROM nvi_registration")[0][0] == 2 * len(BSNS) - 1
            stored = _every_value(session.conn)
        captured = capfd.readouterr()
    logged = (captured.out + captured.err).encode()
    assert b"/fhir/List" in logged  # the index did log its requests: the scan below looks at real output
    for bsn in BSNS:
        for encoded in _encodings(bsn):
            assert not any(encoded in value for value in stored), f"{bsn} found in the index's tables"
    for bsn in BSNS:  # the pseudonymiser saw the BSNs in request bodies; nobody logged them
        for encoded in _encodings(bsn)[:2] + _encodings(bsn)[-2:]:
            assert encoded not in logged, f"{bsn} found in the logs"


def test_the_pseudonymiser_refuses_bad_input_and_other_purposes(tmp_path: Path, database_url: str,
                                                                model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        base = net.pseudonymiser.settings.base_url
        good = {"resourceType": "Parameters", "parameter": [
            {"name": "identifier", "valueIdentifier": {"system": BSN_SYSTEM, "value": BSNS[0]}},
            {"name": "recipient", "valueIdentifier": {"system": URA, "value": NVI_URA}}]}
        token = get_token(base, net.orgs[HOSPITAL_URA], scopes="system/Parameters.c", purpose="pseudonymisation")
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{base}/$pseudonymize", json=good, headers=headers).status_code == 200
        bad_bsn = {**good, "parameter": [{"name": "identifier", "valueIdentifier": {"system": BSN_SYSTEM,
                                                                                    "value": "999911121"}},
                                         good["parameter"][1]]}
        unknown_recipient = {**good, "parameter": [good["parameter"][0], {"name": "recipient", "valueIdentifier": {
            "system": URA, "value": "12345678"}}]}
        for body, status in ((bad_bsn, 400), ({**good, "parameter": good["parameter"][:1]}, 400),
                             ({"resourceType": "Patient"}, 400), (unknown_recipient, 422)):
            answer = httpx.post(f"{base}/$pseudonymize", json=body, headers=headers)
            assert answer.status_code == status, answer.text
            assert "999911121" not in answer.text
        other = get_token(base, net.orgs[HOSPITAL_URA], scopes="system/Parameters.c", purpose="bgz")
        refused = httpx.post(f"{base}/$pseudonymize", json=good, headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 403
        assert httpx.post(f"{base}/$pseudonymize", json=good).status_code == 401
