"""eOverdracht (nursing handover) by notified pull: ``node.services["handover"]``.

The sender creates the workflow Task here and notifies the receiver (a Task POSTed to the receiver's FHIR
endpoint, found in the query directory, with an ``eoverdracht-sender`` token); the receiver pulls the Task and
what it refers to with an ``eoverdracht-receiver`` token bound to that Task, and moves the Task's status at the
sender. The professional's attestation goes with every token request. Every FHIR access, local or remote, passes
a router and so lands on that node's audit trail; local writes go through this node's router as the operator.

Switched on when the node has keys (``--keys``) and a query directory (``--query-directory``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from samen.api.messages import FhirRequest
from samen.auth.client import TokenClient, TokenRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.auth.keys import KeyStore
from samen.auth.policy import BGZ_QUERIES, EOVERDRACHT_RECEIVER, EOVERDRACHT_SENDER
from samen.exchange.custodians import Custodian, QueryDirectory
from samen.exchange.handover_addresses import AddressNotFound, Addresses
from samen.exchange.handover_remote import HandoverError, Remote
from samen.exchange.handover_tasks import (
    IN, OUT, HANDOVER_CODE, SNOMED, Handover, PulledHandover, handover_of, input_references, is_handover,
    notification_task, ura_of, workflow_task, workflow_url)
from samen.sample import BSN
from samen.store.search import parse_search

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "handover"
SENDER_SCOPES = "system/Task.cu"
RECEIVER_SCOPES = "system/*.r system/Task.u"
TIMEOUT_S = 10.0
SUMMARY_TYPES = tuple(t for t in BGZ_QUERIES if t != "Patient")  # resources=[]: the patient's BgZ-like summary
LISTING_TYPES = ("List", "Composition")  # an input of these types: what it lists is fetched too
MAX_TASKS = 1000


class HandoverService:
    """eOverdracht for one node (its URA, keys and router); synchronous, thread-safe."""

    def __init__(self, node: Node, tokens: TokenClient, addresses: Addresses, http: httpx.Client) -> None:
        self.node = node
        self.ura = tokens.keys.ura
        self.tokens = tokens
        self.addresses = addresses
        self.http = http

    # -- sender --------------------------------------------------------------------------------

    def send(self, *, patient_id: str, receiver_ura: str, resources: list[str], note: str,
             attestation: str) -> Handover:
        """Create the workflow Task (with a List of the patient's summary when ``resources`` is empty) and notify
        the receiver; a failed notification leaves the Task ``failed`` and raises :class:`HandoverError`."""
        receiver = self._address(receiver_ura)
        patient = self._local_resource("Patient", patient_id)
        bsn = next((i.get("value", "") for i in patient.get("identifier", []) if i.get("system") == BSN), "")
        if not bsn:
            raise HandoverError(422, f"Patient/{patient_id} has no BSN; the receiver could not identify the patient",
                                "business-rule")
        self._check_references(patient_id, resources)
        summary = None if resources else self._summary(patient_id, _display(patient))
        references = resources or ["urn:uuid:summary"]
        task = workflow_task(patient_id=patient_id, patient_display=_display(patient),
                             sender=(self.ura, self._name(self.ura)), receiver=(receiver.ura, receiver.name),
                             references=references, note=note, authored=_now())
        task = self._create(task, summary)
        url = f"{self.node.settings.base_url}/Task/{task['id']}"
        request = TokenRequest(receiver.token_endpoint, EOVERDRACHT_SENDER, SENDER_SCOPES,
                               professional_attestation=attestation)
        try:
            Remote(receiver.fhir_base, self.tokens, request, self.http).call(
                "POST", "Task", notification_task(task, url, bsn))
        except HandoverError:
            self._local_update(task | {"status": "failed", "statusReason": {"text": "the receiver was not notified"}})
            raise
        return handover_of(task, OUT, self._name)

    def outgoing(self) -> list[Handover]:
        """The handovers this node sent, newest first, with the status the receiver gave them."""
        return [handover_of(t, OUT, self._name) for t in self._tasks() if ura_of(t.get("requester")) == self.ura]

    # -- receiver ------------------------------------------------------------------------------

    def incoming(self) -> list[Handover]:
        """The notifications other organisations sent to this node, newest first."""
        return [handover_of(t, IN, self._name) for t in self._tasks()
                if ura_of(t.get("owner")) == self.ura and ura_of(t.get("requester")) != self.ura]

    def pull(self, handover_id: str, *, attestation: str) -> PulledHandover:
        """Fetch the workflow Task and what it refers to at the sender; a Task still ``requested`` becomes
        ``received`` (there and in the notification here)."""
        notification, remote, task_id = self._announced(handover_id, attestation)
        task = remote.get(f"Task/{task_id}")
        resources = self._fetch(remote, input_references(task))
        if task.get("status") == "requested":
            task = remote.call("PUT", f"Task/{task_id}", task | {"status": "received"})
            notification = self._local_update(notification | {"status": "received"})
        return PulledHandover(handover_of(notification, IN, self._name), task, resources)

    def accept(self, handover_id: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "accepted", attestation)

    def reject(self, handover_id: str, reason: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "rejected", attestation, reason)

    def start(self, handover_id: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "in-progress", attestation)

    def complete(self, handover_id: str, *, attestation: str) -> Handover:
        return self._move(handover_id, "completed", attestation)

    def _move(self, handover_id: str, status: str, attestation: str, reason: str = "") -> Handover:
        """Set the workflow Task's status at the sender (which checks the transition), then the notification's."""
        notification, remote, task_id = self._announced(handover_id, attestation)
        change: dict[str, Any] = {"status": status} | ({"statusReason": {"text": reason}} if reason else {})
        remote.call("PUT", f"Task/{task_id}", remote.get(f"Task/{task_id}") | change)
        return handover_of(self._local_update(notification | change), IN, self._name)

    def _announced(self, handover_id: str, attestation: str) -> tuple[dict[str, Any], Remote, str]:
        """The notification ``handover_id``, the sender's API with a token bound to its workflow Task, that Task's id.

        The workflow Task must lie under the FHIR endpoint the query directory lists for the notification's
        sender: a notification cannot send this node's professional (and attestation) anywhere else."""
        notification = self._local_resource("Task", handover_id)
        if not is_handover(notification) or ura_of(notification.get("owner")) != self.ura:
            raise HandoverError(404, f"Task/{handover_id} is not an eOverdracht addressed to this organisation",
                                "not-found")
        sender = self._address(ura_of(notification.get("requester")))
        url = workflow_url(notification)
        task_id = url.removeprefix(f"{sender.fhir_base}/Task/")
        if not url.startswith(f"{sender.fhir_base}/Task/") or not task_id or "/" in task_id:
            raise HandoverError(422, f"the notification names a Task ({url or 'none'}) outside the FHIR endpoint of "
                                     f"its sender ({sender.fhir_base})", "business-rule")
        request = TokenRequest(sender.token_endpoint, EOVERDRACHT_RECEIVER, RECEIVER_SCOPES,
                               task=task_id, professional_attestation=attestation)
        return notification, Remote(sender.fhir_base, self.tokens, request, self.http), task_id

    def _fetch(self, remote: Remote, references: list[str]) -> list[dict[str, Any]]:
        """The resources ``references`` name at the sender, and those their Lists and Compositions list."""
        fetched: dict[str, dict[str, Any]] = {}
        pending = list(references)
        while pending:
            reference = pending.pop(0)
            if reference in fetched:
                continue
            resource = fetched[reference] = remote.get(reference)
            if resource.get("resourceType") in LISTING_TYPES:
                pending.extend(r for r in _listed(resource) if r not in fetched)
        return list(fetched.values())

    # -- this node's own data ------------------------------------------------------------------

    def _check_references(self, patient_id: str, references: list[str]) -> None:
        """Every reference is a resource here in the patient's compartment (or the Patient); else a 422."""
        enforcer = self.node.router.enforcer
        with self.node.store.session(write=False) as session:
            for reference in references:
                local = enforcer.local_reference(reference)
                if local is None or local == ("Patient", patient_id):
                    if local is None:
                        raise HandoverError(422, f"'{reference}' is not a reference to a resource here", "invalid")
                    continue
                if not enforcer.in_compartment(session, local[0], [local[1]], patient_id):
                    raise HandoverError(422, f"{reference} is not data of Patient/{patient_id} here", "business-rule")

    def _summary(self, patient_id: str, display: str) -> dict[str, Any]:
        """A List of the patient's BgZ-like data here (the handover when no resources are chosen)."""
        entries = []
        with self.node.store.session(write=False) as session:
            for res_type in SUMMARY_TYPES:
                query = parse_search(self.node.model, res_type, [("_count", str(MAX_TASKS)), ("_total", "none")],
                                     compartment=("Patient", patient_id))
                entries += [{"item": {"reference": f"{row.res_type}/{row.res_id}"}}
                            for row in session.search(query).matches]
        summary: dict[str, Any] = {"resourceType": "List", "status": "current", "mode": "snapshot",
                                   "title": f"eOverdracht: {display}", "subject": {"reference": f"Patient/{patient_id}"},
                                   "date": _now()}
        return summary | ({"entry": entries} if entries else {"emptyReason": {"text": "no data"}})

    def _create(self, task: dict[str, Any], summary: dict[str, Any] | None) -> dict[str, Any]:
        """Create the Task (and its summary List) in one transaction through this node's router."""
        entries = [{"fullUrl": "urn:uuid:summary", "resource": summary, "request": {"method": "POST", "url": "List"}}
                   ] if summary is not None else []
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": task,
                        "request": {"method": "POST", "url": "Task"}})
        answer = self._local("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
        location = answer["entry"][-1]["response"]["location"]
        return self._local_resource("Task", location.split("/")[1])

    def _local_update(self, task: dict[str, Any]) -> dict[str, Any]:
        return self._local("PUT", f"Task/{task['id']}", task | {"lastModified": _now()})

    def _local(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = FhirRequest(method, path, body=body, base_url=self.node.settings.base_url, access=OPERATOR_CONTEXT)
        payload = self.node.router.handle(request).payload()
        return orjson.loads(payload) if payload else {}

    def _local_resource(self, res_type: str, res_id: str) -> dict[str, Any]:
        """A resource of this node, read without an audit entry (the node's own bookkeeping); 404 when absent."""
        with self.node.store.session(write=False) as session:
            stored = session.read(res_type, res_id)
        if stored is None or stored.content is None:
            raise HandoverError(404, f"{res_type}/{res_id} does not exist here", "not-found")
        return stored.json()

    def _tasks(self) -> list[dict[str, Any]]:
        """This node's eOverdracht Tasks (workflow Tasks and notifications), newest first."""
        params = [("code", f"{SNOMED}|{HANDOVER_CODE['code']}"), ("_count", str(MAX_TASKS)), ("_total", "none")]
        with self.node.store.session(write=False) as session:
            rows = session.search(parse_search(self.node.model, "Task", params)).matches
            tasks = [orjson.loads(row.content) for row in rows]
        return sorted(tasks, key=lambda t: (t.get("authoredOn", ""), t.get("id", "")), reverse=True)

    def _address(self, ura: str) -> Custodian:
        try:
            return self.addresses.of(ura)
        except AddressNotFound as error:
            raise HandoverError(404, str(error), "not-found") from error

    def _name(self, ura: str) -> str:
        """An organisation's name in the trust list; "" when it is not there (the Task's display is used then)."""
        trusted = self.node.auth.trust.organisation(ura)
        return trusted.name if trusted is not None else ""


def _listed(resource: dict[str, Any]) -> list[str]:
    """The relative references a List's entries or a Composition's sections name."""
    items = [entry.get("item", {}) for entry in resource.get("entry", [])]
    items += [entry for section in resource.get("section", []) for entry in section.get("entry", [])]
    return [str(i["reference"]) for i in items if isinstance(i.get("reference"), str) and i["reference"].count("/") == 1]


def _display(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
        if text:
            return str(text)
    return f"Patient/{patient.get('id', '')}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def install(node: Node) -> None:
    """Offer eOverdracht on a node with keys and a query directory; otherwise do nothing."""
    settings = node.settings
    if not settings.keys_dir or not settings.query_directory:
        return
    http = httpx.Client(timeout=TIMEOUT_S)
    tokens = TokenClient(KeyStore(Path(settings.keys_dir)), http=http)
    addresses = Addresses(QueryDirectory(settings.query_directory, tokens, None), TIMEOUT_S)
    node.services[SERVICE] = HandoverService(node, tokens, addresses, http)
    node.closers.append(http.close)
