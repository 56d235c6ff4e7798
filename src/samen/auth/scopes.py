"""SMART on FHIR v2 scopes: ``<context>/<resource type or *>.<permissions>``, e.g. ``system/Patient.rs``.

Permissions are letters of ``cruds`` (create, read, update, delete, search) in that order. The
granular form with a query (``patient/Observation.rs?category=...``) and the v1 forms (``.read``)
are refused rather than read loosely: a scope the node does not understand exactly grants nothing.
The identity scopes of SMART App Launch (``openid``, ``fhirUser``, ``launch/patient``, ...) are kept
as they are.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

CONTEXTS = ("patient", "user", "system")
PERMISSIONS = "cruds"
IDENTITY_SCOPES = frozenset({"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access",
                             "online_access"})
_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z]+)$")


class ScopeError(ValueError):
    """A scope that is not a valid SMART v2 scope for this request; the message is safe to show."""


@dataclass(frozen=True)
class ResourceScope:
    context: str  # patient, user or system
    resource_type: str  # a FHIR resource type or "*"
    permissions: str  # a subsequence of "cruds"

    def permits(self, resource_type: str, permission: str) -> bool:
        return permission in self.permissions and self.resource_type in ("*", resource_type)


@lru_cache(maxsize=4096)
def parse_scope(text: str) -> ResourceScope | None:
    """The resource scope ``text`` stands for, None for an identity scope; raises :class:`ScopeError`."""
    if text in IDENTITY_SCOPES:
        return None
    match = _RESOURCE_SCOPE.match(text)
    if match is None:
        raise ScopeError(f"'{text[:80]}' is not a SMART v2 scope")
    context, resource_type, permissions = match.groups()
    if not _in_order(permissions):
        raise ScopeError(f"'{text[:80]}': permissions are letters of '{PERMISSIONS}', in that order")
    return ResourceScope(context, resource_type, permissions)


def parse_requested(text: str, *, contexts: Collection[str], resource_types: Collection[str]) -> frozenset[str]:
    """The scopes of a token request's ``scope`` parameter (space-separated), each valid for one of
    ``contexts`` and naming a known resource type; raises :class:`ScopeError`."""
    requested = frozenset(text.split())
    if not requested:
        raise ScopeError("no scope requested")
    for scope in requested:
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        if parsed.context not in contexts:
            raise ScopeError(f"'{scope[:80]}' is not available here; use {' or '.join(contexts)} scopes")
        if parsed.resource_type != "*" and parsed.resource_type not in resource_types:
            raise ScopeError(f"'{scope[:80]}' names an unknown resource type")
    return requested


@lru_cache(maxsize=16384)
def permits(scopes: frozenset[str], resource_type: str, permission: str) -> bool:
    """Whether any of ``scopes`` allows ``permission`` (one letter of ``cruds``) on ``resource_type``."""
    return any(parsed.permits(resource_type, permission) for parsed in _resource_scopes(scopes))


def _resource_scopes(scopes: Iterable[str]) -> Iterable[ResourceScope]:
    for scope in scopes:
        try:
            parsed = parse_scope(scope)
        except ScopeError:
            continue
        if parsed is not None:
            yield parsed


def _in_order(permissions: str) -> bool:
    position = -1
    for letter in permissions:
        found = PERMISSIONS.find(letter, position + 1)
        if found < 0:
            return False
        position = found
    return True
