"""No bypass: every route and operation of a node with every role on, and each access to patient data
leaves exactly one audit entry after the policy judged it.

The requests are generated from the node, not listed by hand: one resource type per class (the
Patient, a type in the Patient compartment, a type outside it, every type a provider serves) × a request
shape per FHIR interaction (the shapes must cover every interaction the policy knows), every registered
$operation, and every Starlette route of ``node.app()``. Each is sent without a token (401, one entry
with outcome 4: refused before anything was read) and with the hospital's admin token (one entry;
outcome 0 exactly when the answer is a success). A Bundle is audited per entry (two entries for two).
Routes outside the FHIR API carry no patient data; each is named in NO_PATIENT_DATA with the reason,
and a route that is not there fails the test until someone decides. The chain verifies at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from audit_helpers import Clinic, clinic
from audit_helpers import last_seq, trail_entries
from starlette.routing import Route as StarletteRoute

from samen import roles
from samen.api.messages import FhirRequest
from samen.audit import store as audit_store
from samen.auth import policy
from samen.fhir.model import Model

# Routes outside the FHIR API (relative to the base, with what lies below), and why no patient data passes
# through them without the router.
NO_PATIENT_DATA = {
    "metadata": "the CapabilityStatement: what the node serves",
    ".well-known/smart-configuration": "SMART discovery: endpoints and capabilities",
    ".well-known/jwks.json": "the node's public signing keys",
    ".well-known/encryption-jwks.json": "a role's public encryption keys",
    "auth/token": "issues tokens for a client's own credentials; a refused request is audited (tested below)",
    "beheer/adresboek": "the administration directory's pages (and what lies below): the organisation's own "
                        "directory entries, read and written through the router (audited there)",
}
FHIR_API = {"{path:path}", ""}  # the FHIR API's own routes: everything below is about them
PATIENT_DATA_INTERACTIONS = policy.READS | policy.WRITES | policy.CONDITIONAL_WRITES | {
    "patch", "batch", "transaction", "operation"}


@pytest.fixture
def site(database_url: str, model: Model, tmp_path: Path) -> Iterator[Clinic]:
    with clinic(database_url, model, tmp_path, roles=tuple(roles.ROLES)) as served:
        yield served


@dataclass
class Call:
    label: str
    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    entries: int = 1  # audit entries a permitted call leaves (a Bundle: one per entry)


def type_classes(site: Clinic) -> dict[str, str]:
    """One resource type per class, from the model and the router; preferably one the clinic has data of."""
    router = site.node.router
    compartment = router.enforcer.policy.compartment
    with_data = [reference.split("/")[0] for reference in site.ids.values()]

    def pick(candidates: list[str]) -> str:
        return next((t for t in with_data if t in candidates), candidates[0])

    plain = [t for t in router.model.resource_types if t not in router.providers]
    classes = {
        "Patient": "Patient",
        "in the Patient compartment": pick([t for t in plain if t in compartment and t != "Patient"]),
        "outside the Patient compartment": pick([t for t in plain if t not in compartment]),
    }
    classes.update({f"served by a provider ({t})": t for t in router.providers})
    return classes


def instance_id(site: Clinic, res_type: str) -> str:
    return next((ref.split("/")[1] for ref in site.ids.values() if ref.split("/")[0] == res_type), "unknown-id")


def interaction_calls(res_type: str, res_id: str) -> list[Call]:
    """A request per FHIR interaction on ``res_type`` (reads first: the writes change what is there)."""
    body = {"resourceType": res_type, "id": res_id}
    patch = [{"op": "test", "path": "/id", "value": res_id}]
    patch_headers = {"Content-Type": "application/json-patch+json"}
    return [
        Call("read", "GET", f"{res_type}/{res_id}"),
        Call("vread", "GET", f"{res_type}/{res_id}/_history/1"),
        Call("history", "GET", f"{res_type}/{res_id}/_history"),
        Call("history", "GET", f"{res_type}/_history"),
        Call("search", "GET", res_type, [("_count", "5")]),
        Call("search", "POST", f"{res_type}/_search"),
        Call("search", "GET", f"Patient/{res_id}/{res_type}") if res_type != "Patient" else Call(
            "search", "GET", "", [("_type", "Patient")]),
        Call("create", "POST", res_type, body={"resourceType": res_type}),
        Call("conditional-create", "POST", res_type, body={"resourceType": res_type},
             headers={"If-None-Exist": "_id=unknown-id"}),
        Call("update", "PUT", f"{res_type}/{res_id}", body=body),
        Call("patch", "PATCH", f"{res_type}/{res_id}", body=patch, headers=patch_headers),
        Call("conditional-update", "PUT", res_type, [("_id", res_id)], body=body),
        Call("conditional-patch", "PATCH", res_type, [("_id", res_id)], body=patch, headers=patch_headers),
        Call("delete", "DELETE", f"{res_type}/{res_id}"),
        Call("conditional-delete", "DELETE", res_type, [("_id", "unknown-id")]),
    ]


def bundle_calls(site: Clinic) -> list[Call]:
    reads = [{"request": {"method": "GET", "url": site.ids["a-bp"]}},
             {"request": {"method": "GET", "url": "Patient?_count=1"}}]
    return [Call(kind, "POST", "", body={"resourceType": "Bundle", "type": kind, "entry": reads}, entries=2)
            for kind in ("batch", "transaction")]


def operation_calls(site: Clinic) -> list[Call]:
    calls = []
    for method, pattern in sorted(site.node.router.operations):
        path = pattern.replace("{id}", instance_id(site, pattern.split("/")[0]))
        name = pattern.rsplit("$", 1)[-1]
        params = [("job", "unknown-job"), ("file", "Patient.ndjson")] if name.startswith("export-") else []
        headers = {"Prefer": "respond-async"} if name == "export" else {}
        body = {"resourceType": "Parameters"} if method == "POST" else None
        calls.append(Call("operation", method, path, params, body, headers))
    return calls


def send(fhir: httpx.Client, call: Call) -> httpx.Response:
    headers = {"Content-Type": "application/fhir+json", **call.headers}
    return fhir.request(call.method, call.path, params=call.params, json=call.body, headers=headers)


def test_every_fhir_request_is_judged_and_audited_exactly_once(site: Clinic) -> None:
    calls = bundle_calls(site) + operation_calls(site)  # before the interactions delete what they read
    calls += [call for res_type in type_classes(site).values()
              for call in interaction_calls(res_type, instance_id(site, res_type))]
    router = site.node.router
    routed = {router.route(FhirRequest(c.method, c.path, c.params, c.body,
                                       if_none_exist=c.headers.get("If-None-Exist"))).asked.interaction
              for c in calls}
    assert routed == PATIENT_DATA_INTERACTIONS, "a FHIR interaction is not exercised (or not known to the policy)"
    admin = site.admin_token()
    for call in calls:
        where = f"{call.label}: {call.method} {call.path}"
        before = last_seq(site.node)
        with site.client(None) as anonymous:
            refused = send(anonymous, call)
        assert refused.status_code == 401, (where, refused.text)
        new = trail_entries(site.node)[before:]
        assert [(e.outcome, e.organisation) for e in new] == [("4", "")], where
        before = last_seq(site.node)
        with site.client(admin) as fhir:
            answer = send(fhir, call)
        new = trail_entries(site.node)[before:]
        assert len(new) == (call.entries if answer.status_code < 400 else 1), (where, answer.status_code, new)
        expected = "0" if answer.status_code < 400 else ("8" if answer.status_code == 403 else None)
        for entry in new:
            assert entry.organisation == site.hospital.ura, where
            if expected is not None:
                assert entry.outcome == expected, (where, answer.status_code, entry)
            else:
                assert entry.outcome in ("4", "12"), (where, answer.status_code, entry)
    site.node.services["audit"].flush()
    with site.node.store.session(write=False) as session:
        verdict = audit_store.verify_chain(session.conn)
    assert verdict.intact, verdict


def test_every_route_outside_the_fhir_api_is_known_to_carry_no_patient_data(site: Clinic) -> None:
    base_path = urlsplit(site.base).path.rstrip("/")
    unexplained = []
    for route in site.node.app().routes:
        assert isinstance(route, StarletteRoute), route
        relative = route.path.removeprefix(base_path).strip("/")
        explained = any(relative == known or relative.startswith(known + "/") for known in NO_PATIENT_DATA)
        if relative not in FHIR_API and not explained:
            unexplained.append(route.path)
    assert not unexplained, f"routes that bypass the router: classify them in NO_PATIENT_DATA or audit them: " \
                            f"{unexplained}"
    before = last_seq(site.node)
    with httpx.Client(base_url=site.base + "/") as http:
        for relative in (".well-known/smart-configuration", ".well-known/jwks.json", "metadata"):
            assert http.get(relative).status_code == 200
        refused = http.post("auth/token", data={"grant_type": "client_credentials"})
    assert refused.status_code in (400, 401)
    new = trail_entries(site.node)[before:]
    assert [(e.action, e.outcome) for e in new] == [("C", "4")]  # only the refused token request
