"""The roles a node can take on besides serving its own FHIR data, and the features every node has.

``samen serve --role NAME`` switches a role on; its module's ``install(node)`` registers what the role
serves (resource providers, operations, web pages, background work) on the assembled node. Modules
are imported only when their role is used, so a provider node does not load the national roles.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from samen.node import Node

ROLES: Mapping[str, str] = {  # role name -> module with install(node)
    "pseudonymiser": "samen.directory.pseudonymiser",
    "localization-index": "samen.directory.localization",
    "root-directory": "samen.directory.root",
    "query-directory": "samen.directory.query",
    "consent-registry": "samen.consent.registry",
}
FEATURES: tuple[str, ...] = (  # modules every node installs; each decides from the settings what to switch on
    "samen.directory.custodian",
    "samen.directory.admin_pages",
    "samen.consent.holder",
    "samen.exchange.bgz",  # BgZ and medication overview: with keys, a query directory, index and pseudonymiser
    "samen.apps.clinician",
    "samen.exchange.handover",  # eOverdracht: with keys and a query directory
)


class Installer(Protocol):
    def install(self, node: Node) -> None: ...


def check_roles(roles: tuple[str, ...]) -> None:
    """ValueError naming the unknown roles among ``roles`` (and the known ones)."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(ROLES))}")


def install(node: Node) -> None:
    """Install every feature, then each of the node's roles, in the order given."""
    check_roles(node.settings.roles)
    for module in (*FEATURES, *(ROLES[role] for role in node.settings.roles)):
        installer: Installer = importlib.import_module(module)  # type: ignore[assignment]
        installer.install(node)
