"""A node with patient app access, the test IdPs it logs citizens in with, and two synthetic citizens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
from idp_serving import ServedIdp, served_app, served_idp
from serving import free_port

from samen.auth.keys import KeyStore
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN
from samen.settings import Settings

APP = "pgo-test"
CITIZEN_BSN, OTHER_BSN = "999990019", "999990020"


@dataclass
class LaunchEnv:
    node: Node
    idp: ServedIdp
    app_redirect: str  # the registered redirect URI of the test app (served by the browser test only)
    patients: dict[str, str]  # BSN -> Patient id at the node

    @property
    def base_url(self) -> str:
        return self.node.settings.base_url


@contextmanager
def launch_env(database_url: str, model: Model, folder: Path, *, app_port: int | None = None) -> Iterator[LaunchEnv]:
    """The node (its own URA and keys), registered as a client at the citizen IdP, with app ``pgo-test``."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    with served_idp({base_url: (f"{base_url}/auth/callback",)}) as idp:
        with served_launch_node(database_url, model, folder, port, idp.citizen.issuer, app_port) as (node, redirect):
            patients = {bsn: _citizen_with_observations(node, bsn) for bsn in (CITIZEN_BSN, OTHER_BSN)}
            yield LaunchEnv(node, idp, redirect, patients)


@contextmanager
def served_launch_node(database_url: str, model: Model, folder: Path, port: int, citizen_idp: str,
                       app_port: int | None = None) -> Iterator[tuple[Node, str]]:
    """A node at ``port`` that logs citizens in at ``citizen_idp``; with the app's redirect URI."""
    base_url = f"http://127.0.0.1:{port}/fhir"
    app_redirect = f"http://127.0.0.1:{app_port or 9}/callback"
    apps = folder / "apps.json"
    apps.write_bytes(orjson.dumps([{"client_id": APP, "name": "PGO test", "redirect_uris": [app_redirect]}]))
    KeyStore(folder / "keys").create("12345678")
    settings = Settings(base_url=base_url, keys_dir=str(folder / "keys"), citizen_idp=citizen_idp,
                        apps_file=str(apps))
    node = Node.open(database_url, settings, model)
    try:
        with served_app(node.app(), port):
            yield node, app_redirect
    finally:
        node.close()


def _citizen_with_observations(node: Node, bsn: str) -> str:
    """A Patient with the BSN and two Observations about them, written straight into the store."""
    with node.store.session() as session:
        patient = session.create({"resourceType": "Patient", "identifier": [{"system": BSN, "value": bsn}],
                                  "name": [{"family": f"Burger{bsn[-2:]}"}]})
        for value in (120, 130):
            session.create({
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "subject": {"reference": f"Patient/{patient.res_id}"},
                "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                  "code": "mm[Hg]"},
            })
    return patient.res_id
