"""eOverdracht Tasks: the workflow Task the sender keeps, the notification it sends, and how both read as a Handover.

Following the Nictiz eOverdracht 4.x technical agreements (notified pull) as far as they fit R4 and this network:
the *workflow Task* lives at the sender (``requester`` the sender's URA, ``owner`` the receiver's, ``for`` the
Patient, ``input`` the references to the handover data); the *notification* is a Task the sender creates at the
receiver, naming the workflow Task by its absolute URL (``basedOn`` and ``identifier``) and the patient by BSN.
The receiver reads the workflow Task and its inputs with a token bound to it, and moves its status along
:data:`samen.auth.enforcement.TASK_TRANSITIONS` (the sender's node enforces them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from samen.sample import BSN, URA

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
HANDOVER_CODE = {"system": SNOMED, "code": "308292007", "display": "Overdracht van zorg"}  # transfer of care
NURSING_HANDOFF = {"system": LOINC, "code": "81218-0", "display": "Discharge summary"}  # Task.input:nursingHandoff
ADMISSION_REQUEST = {"system": LOINC, "code": "57830-2", "display": "Admission request"}  # the patient (aanmelding)
URL_IDENTIFIER = "urn:ietf:rfc:3986"  # the notification's identifier: the workflow Task's absolute URL
OUT, IN = "out", "in"


@dataclass(frozen=True)
class Handover:
    """One eOverdracht as a professional sees it: this node's workflow Task (out) or a notification (in)."""

    id: str  # the local Task id (workflow Task when out, notification Task when in)
    direction: str  # "in" | "out"
    status: str
    patient_display: str
    sender_ura: str
    sender_name: str
    receiver_ura: str
    receiver_name: str
    created: str
    note: str


@dataclass(frozen=True)
class PulledHandover:
    """What the receiver fetched at the sender: the workflow Task and the resources it refers to."""

    handover: Handover
    task: dict[str, Any]
    resources: list[dict[str, Any]]


def organisation(ura: str, name: str) -> dict[str, Any]:
    """A logical reference to an organisation by its URA (what the own-organisation and task checks read)."""
    return {"identifier": {"system": URA, "value": ura}, "display": name} if name else \
        {"identifier": {"system": URA, "value": ura}}


def workflow_task(*, patient_id: str, patient_display: str, sender: tuple[str, str], receiver: tuple[str, str],
                  references: list[str], note: str, authored: str) -> dict[str, Any]:
    """The sender's workflow Task (status requested); ``sender``/``receiver`` are (URA, name)."""
    task: dict[str, Any] = {
        "resourceType": "Task", "status": "requested", "intent": "order", "code": {"coding": [HANDOVER_CODE]},
        "for": {"reference": f"Patient/{patient_id}", "display": patient_display},
        "authoredOn": authored, "lastModified": authored,
        "requester": organisation(*sender),
        "owner": organisation(*receiver),
        "input": [{"type": {"coding": [ADMISSION_REQUEST]}, "valueReference": {"reference": f"Patient/{patient_id}"}}]
        + [{"type": {"coding": [NURSING_HANDOFF]}, "valueReference": {"reference": reference}}
           for reference in references],
    }
    if note:
        task["note"] = [{"text": note}]
    return task


def notification_task(workflow: dict[str, Any], workflow_url: str, bsn: str) -> dict[str, Any]:
    """The notification the sender creates at the receiver: the workflow Task by URL, the patient by BSN."""
    notification: dict[str, Any] = {
        "resourceType": "Task", "status": "requested", "intent": "order", "code": workflow["code"],
        "identifier": [{"system": URL_IDENTIFIER, "value": workflow_url}],
        "basedOn": [{"reference": workflow_url}],
        "for": {"identifier": {"system": BSN, "value": bsn}, "display": workflow["for"].get("display", "")},
        "authoredOn": workflow["authoredOn"], "lastModified": workflow["authoredOn"],
        "requester": workflow["requester"], "owner": workflow["owner"],
    }
    if workflow.get("note"):
        notification["note"] = workflow["note"]
    return notification


def is_handover(task: dict[str, Any]) -> bool:
    return any(coding.get("system") == SNOMED and coding.get("code") == HANDOVER_CODE["code"]
               for coding in task.get("code", {}).get("coding", []))


def ura_of(reference: Any) -> str:
    """The URA a logical organisation reference names; "" when it names none."""
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    if isinstance(identifier, dict) and identifier.get("system") == URA:
        return str(identifier.get("value", ""))
    return ""


def workflow_url(notification: dict[str, Any]) -> str:
    """The absolute URL of the workflow Task a notification announces; "" when it names none."""
    for based_on in notification.get("basedOn", []):
        reference = based_on.get("reference", "") if isinstance(based_on, dict) else ""
        if reference.startswith(("http://", "https://")) and "/Task/" in reference:
            return str(reference)
    return ""


def input_references(task: dict[str, Any]) -> list[str]:
    """The relative ``Type/id`` references of a workflow Task's inputs, in order, without repeats."""
    found: list[str] = []
    for item in task.get("input", []):
        reference = item.get("valueReference", {}).get("reference", "") if isinstance(item, dict) else ""
        if isinstance(reference, str) and reference.count("/") == 1 and reference not in found:
            found.append(reference)
    return found


def handover_of(task: dict[str, Any], direction: str, name_of: Callable[[str], str]) -> Handover:
    """``task`` (a workflow Task or a notification) as a Handover; ``name_of``: an organisation's name by URA
    ("" when unknown: the Task's display is shown)."""
    sender, receiver = ura_of(task.get("requester")), ura_of(task.get("owner"))
    notes = [note.get("text", "") for note in task.get("note", []) if isinstance(note, dict)]
    return Handover(
        id=str(task.get("id", "")), direction=direction, status=str(task.get("status", "")),
        patient_display=str(task.get("for", {}).get("display", "")),
        sender_ura=sender, sender_name=name_of(sender) or task.get("requester", {}).get("display", ""),
        receiver_ura=receiver, receiver_name=name_of(receiver) or task.get("owner", {}).get("display", ""),
        created=str(task.get("authoredOn", "")), note="\n".join(notes),
    )
