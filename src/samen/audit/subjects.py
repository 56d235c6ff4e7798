"""Whose data an access touched: the patient of a served resource, as a Patient reference and a BSN.

Derived cheaply from what the request already has: the token's bound patient, the compartment a
search ran in, the Patient read or written itself, or the first local ``Patient/[id]`` reference of
a resource read or written (its subject/patient). A Patient id is turned into a BSN by one read of
that Patient, cached briefly. Not derived: the patients of the results of a search that is neither
patient-bound nor in a compartment (its query is on the entry), and of a bulk export of everyone.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from samen.sample import BSN
from samen.store.store import Session

_PATIENT_REFERENCE = re.compile(rb'"reference":"(?:[^"]*?/)?Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^"]*)?"')
TTL_S = 30.0
MAX_CACHED = 10_000


class Subjects:
    def __init__(self) -> None:
        self._bsns: dict[str, tuple[str, float]] = {}  # Patient id -> BSN ("" for none), valid until

    def of_resource(self, session: Session, res_type: str, res_id: str, content: bytes | None) -> tuple[str, str]:
        """(BSN, "Patient/id") of the patient ``res_type/res_id`` is about; "" for what is not known."""
        if res_type == "Patient":
            bsn = bsn_of(orjson.loads(content)) if content else self.bsn(session, res_id)
            return bsn, f"Patient/{res_id}"
        if not content:
            return "", ""
        match = _PATIENT_REFERENCE.search(content)
        if match is None:
            return "", ""
        patient_id = match.group(1).decode()
        return self.bsn(session, patient_id), f"Patient/{patient_id}"

    def bsn(self, session: Session, patient_id: str) -> str:
        """The BSN of this node's ``Patient/patient_id``; "" when it has none (or does not exist)."""
        now = time.monotonic()
        cached = self._bsns.get(patient_id)
        if cached is not None and now < cached[1]:
            return cached[0]
        stored = session.read("Patient", patient_id)
        bsn = bsn_of(stored.json()) if stored is not None and stored.content is not None else ""
        if len(self._bsns) >= MAX_CACHED:
            self._bsns.clear()
        self._bsns[patient_id] = (bsn, now + TTL_S)
        return bsn


def bsn_of(patient: Any) -> str:
    for identifier in patient.get("identifier") or () if isinstance(patient, dict) else ():
        if isinstance(identifier, dict) and identifier.get("system") == BSN and isinstance(identifier.get("value"), str):
            return identifier["value"]
    return ""
