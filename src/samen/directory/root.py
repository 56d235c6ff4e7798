"""The root directory (LRZa role): one Organization per organisation in the network (URA, name, type) and the
Endpoint of its administration directory, shaped as in the IG's LRZa example (``admin-directory-lrza.fsh``).

The root's operator manages the entries (``samen directory root add/remove``, in-process as the operator, or over
FHIR with the ``admin`` purpose as the root's own organisation); everyone with a ``directory-query`` token reads
them. Administration directories publish into their own node, never into the root: the ``directory-update``
rule is switched off here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.directory import mcsd
from samen.directory.query import refuse_directory_updates
from samen.fhir import outcome
from samen.auth.keys import URA_PATTERN
from samen.sample import ORGANIZATION_TYPE, URA

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "root-directory"


def install(node: Node) -> None:
    refuse_directory_updates(node.router.enforcer.policy)
    node.services[SERVICE] = RootDirectory(node)


def organisation_id(ura: str) -> str:
    return f"ura-{ura}"


def endpoint_id(ura: str) -> str:
    return f"ura-{ura}-admin-directory"


class RootDirectory:
    """The operator's edits of the root's entries, through the node's Router (validated, audited)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def add(self, ura: str, name: str, org_type: str, endpoint: str, *, active: bool = True) -> None:
        """Create or replace the entry of ``ura``: its Organization and its administration directory's Endpoint."""
        if not URA_PATTERN.match(ura):
            raise outcome.bad_request(f"a URA is 8 digits, not {ura!r}")
        if not endpoint.startswith(("http://", "https://")) or not name or not org_type:
            raise outcome.bad_request("give a name, an organisation type and an http(s) endpoint")
        organisation: dict[str, Any] = {
            "resourceType": "Organization", "id": organisation_id(ura), "active": active,
            "identifier": [{"system": URA, "value": ura}],
            "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": org_type}]}],
            "name": name,
            "endpoint": [{"reference": f"Endpoint/{endpoint_id(ura)}"}],
        }
        address = endpoint.rstrip("/")
        entries = [_put(mcsd.admin_directory_endpoint(endpoint_id(ura), address, ura)), _put(organisation)]
        self._transaction(entries)

    def remove(self, ura: str) -> bool:
        """Delete the entry of ``ura``; False when there was none."""
        with self.node.store.session(write=False) as session:
            present = session.read("Organization", organisation_id(ura))
        if present is None or present.deleted:
            return False
        self._transaction([{"request": {"method": "DELETE", "url": f"Organization/{organisation_id(ura)}"}},
                           {"request": {"method": "DELETE", "url": f"Endpoint/{endpoint_id(ura)}"}}])
        return True

    def _transaction(self, entries: list[dict[str, Any]]) -> None:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = self.node.router.handle(FhirRequest("POST", "", body=bundle, base_url=self.node.settings.base_url,
                                                       access=OPERATOR_CONTEXT))
        if response.status >= 400:
            body = orjson.loads(response.body) if isinstance(response.body, bytes) else {}
            issues = body.get("issue") or [{}]
            raise outcome.FhirError(response.status, issues[0].get("diagnostics", "refused"), "invalid")


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}
