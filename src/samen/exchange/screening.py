"""What a custodian's answer may hold: resources of the types asked for, about the person asked about.

A custodian's node answers in the person's compartment, but the requester does not rely on that: a resource of a
type its query did not ask for (nor include), a Patient without the person's BSN, and a resource that refers to
a Patient other than the person's records there (relatively or on the custodian's base) or names another BSN, is
dropped; the report says how many and why.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from samen.sample import BSN

_PATIENT = re.compile(r"^(?:(.*)/)?Patient/([^/]+)(?:/_history/.*)?$")


def person_ids(resources: list[dict[str, Any]], bsn: str) -> set[str]:
    """The ids of the Patients in ``resources`` that carry ``bsn``: the person's records at this custodian."""
    return {str(r.get("id")) for r in resources if r.get("resourceType") == "Patient" and _has_bsn(r, bsn)}


def screen(resources: list[dict[str, Any]], types: frozenset[str], bsn: str, ids: set[str], base: str,
           dropped: Counter[str]) -> list[dict[str, Any]]:
    """``resources`` without those of another type than ``types`` or about another person (counted in ``dropped``)."""
    kept = []
    for resource in resources:
        res_type = resource.get("resourceType")
        if res_type not in types:
            dropped[f"of a type not asked for ({res_type})"] += 1
        elif not _has_bsn(resource, bsn) if res_type == "Patient" else _names_another(resource, bsn, ids, base):
            dropped["about another person"] += 1
        else:
            kept.append(resource)
    return kept


def _has_bsn(patient: dict[str, Any], bsn: str) -> bool:
    return any(isinstance(i, dict) and i.get("system") == BSN and i.get("value") == bsn
               for i in patient.get("identifier") or [])


def _names_another(node: Any, bsn: str, ids: set[str], base: str) -> bool:
    """Whether a reference inside ``node`` names a Patient that is not one of ``ids``, or another BSN."""
    if isinstance(node, dict):
        reference, identifier = node.get("reference"), node.get("identifier")
        if isinstance(reference, str) and (match := _PATIENT.match(reference)) is not None:
            prefix, res_id = match.groups()
            if prefix not in (None, base) or res_id not in ids:
                return True
        if isinstance(identifier, dict) and identifier.get("system") == BSN and identifier.get("value") != bsn:
            return True
        return any(_names_another(value, bsn, ids, base) for value in node.values())
    if isinstance(node, list):
        return any(_names_another(item, bsn, ids, base) for item in node)
    return False
