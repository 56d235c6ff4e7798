"""Literal references: their format, and their targets inside the instance (contained, bundled)."""

from __future__ import annotations

import re
from typing import Any

_UUID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def reference_type(reference: str) -> str | None | bool:
    """The resource type a literal reference names; None when it names none (contained, urn:,
    a URL that is not Type/id); False when it is no valid reference at all."""
    if reference.startswith("#"):  # "#" alone: a contained resource pointing to its container
        return None if reference == "#" or _ID.fullmatch(reference[1:]) else False
    if reference.startswith("urn:"):
        return None if _UUID.fullmatch(reference) or _OID.fullmatch(reference) else False
    absolute = _ABSOLUTE.fullmatch(reference) is not None and "://" in reference
    if not absolute and (" " in reference or not reference):
        return False
    parts = reference.split("?", 1)[0].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if "?" in reference and not absolute:  # a conditional reference, Type?criteria (transactions)
        return parts[0] if len(parts) == 1 and parts[0][:1].isupper() else False
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalpha() and _ID.fullmatch(parts[-1]):
        return parts[-2]
    return None if absolute else False


def resolve_reference(reference: str, resource: dict[str, Any], root: dict[str, Any]) -> dict[str, Any] | None:
    """The resource a literal reference points to inside the instance (see :func:`locate_reference`)."""
    located = locate_reference(reference, resource, root)
    return located[0] if located is not None else None


def locate_reference(reference: str, resource: dict[str, Any],
                     root: dict[str, Any]) -> tuple[dict[str, Any], bool, str] | None:
    """The target of a literal reference inside the instance, whether it sits in the root resource
    (not in ``resource``), and its path there: a contained resource (``#id``: ``contained[2]``) or a
    Bundle entry (by ``fullUrl``, or ``Type/id`` at the end of one: ``entry[3].resource``)."""
    if reference.startswith("#"):
        for in_root, container in ((False, resource), (True, root)):
            for position, contained in enumerate(container.get("contained", ())):
                if type(contained) is dict and contained.get("id") == reference[1:]:
                    return contained, in_root, f"contained[{position}]"
        return None
    if root.get("resourceType") != "Bundle":
        return None
    for position, entry in enumerate(root.get("entry", ())):
        if type(entry) is not dict or type(entry.get("resource")) is not dict:
            continue
        target = entry["resource"]
        if entry.get("fullUrl") == reference or (
            "://" not in reference and f"{target.get('resourceType')}/{target.get('id')}" == reference
        ):
            return target, True, f"entry[{position}].resource"
    return None
