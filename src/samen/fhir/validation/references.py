"""Literal references: their format, and their targets inside the instance (contained, bundled)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samen.fhir.validation.fhirpath import Env

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


def resolve_reference(reference: str, env: Env) -> dict[str, Any] | None:
    """The resource a literal reference points to inside the instance (see :func:`locate_reference`)."""
    located = locate_reference(reference, env)
    return located[0] if located is not None else None


def locate_reference(reference: str, env: Env) -> tuple[dict[str, Any], str] | None:
    """The target of a literal reference inside the instance and its path there: a resource contained
    in %resource or %rootResource (``#id``: ``Patient.contained[2]``), or an entry of the nearest
    Bundle (by ``fullUrl``, or ``Type/id`` at the end of one: ``Bundle.entry[3].resource``)."""
    if reference.startswith("#"):
        for (resource, *_), path in ((env.resource, env.resource_path), (env.root, env.root_path)):
            found = contained_by_id(resource, env).get(reference[1:])
            if found is not None:
                return found[0], f"{path}.{found[1]}"
        return None
    if env.bundle is None:
        return None
    found = _entries_by_reference(env.bundle[0], env).get(reference)
    return (found[0], f"{env.bundle_path}.{found[1]}") if found is not None else None


Located = dict[str, tuple[dict[str, Any], str]]  # reference -> (target, its path below the container)


def contained_by_id(resource: dict[str, Any], env: Env) -> Located:
    """The resources contained in ``resource`` by id (the first of each id); built once per validation."""
    key = (id(resource), "contained")
    index: Located | None = env.lookups.get(key)
    if index is None:
        index = env.lookups[key] = {}
        for position, contained in enumerate(array(resource.get("contained"))):
            if type(contained) is dict and type(contained.get("id")) is str:
                index.setdefault(contained["id"], (contained, f"contained[{position}]"))
    return index


def _entries_by_reference(bundle: dict[str, Any], env: Env) -> Located:
    """A Bundle's entry resources by fullUrl and by Type/id (the first entry of each); built once per validation."""
    key = (id(bundle), "entries")
    index: Located | None = env.lookups.get(key)
    if index is None:
        index = env.lookups[key] = {}
        for position, entry in enumerate(array(bundle.get("entry"))):
            if type(entry) is not dict or type(entry.get("resource")) is not dict:
                continue
            target, place = entry["resource"], f"entry[{position}].resource"
            if type(entry.get("fullUrl")) is str:
                index.setdefault(entry["fullUrl"], (target, place))
            if type(target.get("resourceType")) is str and type(target.get("id")) is str:
                index.setdefault(f"{target['resourceType']}/{target['id']}", (target, place))
    return index


def array(value: Any) -> list[Any]:
    """A JSON array's items; none for a value that should have been an array (the walker reports it)."""
    return value if type(value) is list else []
