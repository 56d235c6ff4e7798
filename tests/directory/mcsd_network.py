"""A small addressing network for the update client's tests: a root directory, administration directories of two
organisations (each a real node on loopback, open mode) and the resources they publish."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import free_port, served_node

from samen.directory import mcsd
from samen.directory.codes import AUTHORIZATION_SERVER, CONNECTION_TYPE, HL7_PAYLOAD_TYPE
from samen.directory.root import SERVICE as ROOT_SERVICE
from samen.directory.sync import Source, UpdateClient, local_id
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import ORGANIZATION_TYPE, URA

OOST, LINDE = "11110001", "22220002"
SPECIALTY = "urn:oid:2.16.840.1.113883.2.4.6.7"  # AGB specialisms (COD016-VEKT)
CARDIOLOGY, GP = "0320", "0100"


def put(node: Node, resource: dict[str, Any]) -> None:
    answer = httpx.put(f"{node.settings.base_url}/{resource['resourceType']}/{resource['id']}", json=resource,
                       headers={"Content-Type": "application/fhir+json"}, timeout=30)
    assert answer.status_code in (200, 201), answer.text


def delete(node: Node, res_type: str, res_id: str) -> None:
    answer = httpx.delete(f"{node.settings.base_url}/{res_type}/{res_id}", timeout=30)
    assert answer.status_code in (200, 204), answer.text


def ref(res_type: str, res_id: str) -> dict[str, str]:
    return {"reference": f"{res_type}/{res_id}"}


def organisation(res_id: str, name: str, *, ura: str | None = None, org_type: str = "V4", city: str = "Utrecht",
                 part_of: str | None = None, endpoints: tuple[str, ...] = ()) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Organization", "id": res_id, "active": True, "name": name,
                                "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": org_type}]}],
                                "address": [{"city": city}]}
    if ura:
        resource["identifier"] = [{"system": URA, "value": ura}]
    if part_of:
        resource["partOf"] = ref("Organization", part_of)
    if endpoints:
        resource["endpoint"] = [ref("Endpoint", e) for e in endpoints]
    return resource


def endpoint(res_id: str, address: str, owner: str, *, kind: str = "fhir") -> dict[str, Any]:
    """A FHIR base (``fhir``) or the organisation's keys (``jwks``: an authorization-server Endpoint)."""
    resource: dict[str, Any] = {"resourceType": "Endpoint", "id": res_id, "status": "active", "address": address,
                                "managingOrganization": ref("Organization", owner),
                                "payloadType": [{"coding": [{"system": HL7_PAYLOAD_TYPE, "code": "any"}]}]}
    if kind == "jwks":
        resource["connectionType"] = {"system": AUTHORIZATION_SERVER, "code": mcsd.OAUTH2}
        resource["payloadMimeType"] = [mcsd.JWK_SET_MIME]
    else:
        resource["connectionType"] = {"system": CONNECTION_TYPE, "code": mcsd.FHIR_REST}
        resource["payloadMimeType"] = [mcsd.FHIR_JSON_MIME]
    return resource


def location(res_id: str, owner: str, name: str, city: str, postcode: str, lat: float, lon: float) -> dict[str, Any]:
    return {"resourceType": "Location", "id": res_id, "status": "active", "name": name,
            "managingOrganization": ref("Organization", owner),
            "address": {"city": city, "postalCode": postcode}, "position": {"latitude": lat, "longitude": lon}}


def service(res_id: str, owner: str, name: str, specialty: str, locations: tuple[str, ...] = ()) -> dict[str, Any]:
    resource = {"resourceType": "HealthcareService", "id": res_id, "active": True, "name": name,
                "providedBy": ref("Organization", owner),
                "specialty": [{"coding": [{"system": SPECIALTY, "code": specialty}]}]}
    if locations:
        resource["location"] = [ref("Location", loc) for loc in locations]
    return resource


def role(res_id: str, owner: str, practitioner: str, specialty: str) -> dict[str, Any]:
    return {"resourceType": "PractitionerRole", "id": res_id, "active": True,
            "organization": ref("Organization", owner), "practitioner": ref("Practitioner", practitioner),
            "specialty": [{"coding": [{"system": SPECIALTY, "code": specialty}]}]}


def practitioner(res_id: str, family: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": res_id, "name": [{"family": family}]}


@dataclass
class Network:
    root: Node
    admins: dict[str, Node]  # URA -> its administration directory
    ports: dict[str, int]
    stack: ExitStack
    tmp_path: Path
    model: Model
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, store: Any, **options: Any) -> UpdateClient:
        return UpdateClient(store, attempts=2, backoff_s=0.05, **options)

    def local(self, ura: str, res_id: str) -> str:
        """The id in the query directory of ``res_id`` published by ``ura``'s administration directory."""
        return local_id(Source(self.admins_url(ura), "administration").prefix, res_id)

    def admins_url(self, ura: str) -> str:
        return f"http://127.0.0.1:{self.ports[ura]}/fhir"

    def stop(self, ura: str) -> None:
        node = self.admins.pop(ura)
        self.extra.pop(f"stack-{ura}").close()
        assert node

    def start(self, who: str, /, **settings: Any) -> Node:
        ura = who
        stack = ExitStack()
        node = stack.enter_context(served_node(str(self.tmp_path / f"admin-{ura}.db"), self.model,
                                               port=self.ports[ura], **settings))
        self.extra[f"stack-{ura}"] = stack
        self.stack.callback(stack.close)
        self.admins[ura] = node
        return node


def publish_oost(node: Node) -> None:
    base = node.settings.base_url
    put(node, endpoint("oost-fhir", base, "oost"))
    put(node, endpoint("oost-jwks", f"{base}/.well-known/jwks.json", "oost", kind="jwks"))
    put(node, organisation("oost", "Ziekenhuis Oost", ura=OOST, endpoints=("oost-fhir", "oost-jwks")))
    put(node, organisation("oost-cardio", "Cardiologie Oost", part_of="oost"))
    put(node, location("oost-loc", "oost", "Hoofdlocatie", "Utrecht", "3584 CX", 52.0894, 5.1101))
    put(node, service("oost-cardio-hs", "oost-cardio", "Polikliniek cardiologie", CARDIOLOGY, ("oost-loc",)))
    put(node, practitioner("jansen", "Jansen"))
    put(node, role("jansen-cardio", "oost-cardio", "jansen", CARDIOLOGY))


def publish_linde(node: Node) -> None:
    put(node, organisation("linde", "Huisartspraktijk De Linde", ura=LINDE, org_type="Z3", city="Amersfoort",
                           endpoints=("linde-fhir",)))
    put(node, endpoint("linde-fhir", node.settings.base_url, "linde"))
    put(node, location("linde-loc", "linde", "Praktijk", "Amersfoort", "3811 AA", 52.1561, 5.3878))
    put(node, service("linde-hs", "linde", "Huisartsenzorg", GP, ("linde-loc",)))


@contextmanager
def network(tmp_path: Path, model: Model, root_settings: dict[str, Any] | None = None,
            **admin_settings: Any) -> Iterator[Network]:
    """The root lists Ziekenhuis Oost and Huisartspraktijk De Linde with their administration directories."""
    with ExitStack() as stack:
        root = stack.enter_context(served_node(str(tmp_path / "root.db"), model, roles=("root-directory",),
                                               **(root_settings or {})))
        net = Network(root, {}, {OOST: free_port(), LINDE: free_port()}, stack, tmp_path, model)
        publish_oost(net.start(OOST, **admin_settings.get(OOST, {})))
        publish_linde(net.start(LINDE, **admin_settings.get(LINDE, {})))
        root.services[ROOT_SERVICE].add(OOST, "Ziekenhuis Oost", "V4", net.admins_url(OOST))
        root.services[ROOT_SERVICE].add(LINDE, "Huisartspraktijk De Linde", "Z3", net.admins_url(LINDE))
        yield net
