"""The organisations and identity providers this node trusts (until the address book replaces it).

The trust list file has the shape of a directory entry: per organisation its URA, name, organisation
type, endpoints, ``active`` flag and signing keys (inline ``jwks`` or a ``jwks_uri``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrustedOrganisation:
    ura: str
    name: str
    organisation_type: str  # RoleCodeNL zorgaanbiedertype code
    fhir_base: str = ""
    token_endpoint: str = ""


class TrustList:
    """Read from ``path``; reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def organisation(self, ura: str) -> TrustedOrganisation | None:
        """The active organisation with this URA; None when unknown or revoked."""
        raise NotImplementedError
