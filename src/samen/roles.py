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
)


class Installer(Protocol):
    def install(self, node: Node) -> None: ...


def unknown_roles(roles: tuple[str, ...]) -> list[str]:
    return [role for role in roles if role not in ROLES]


def install(node: Node) -> None:
    """Install every feature, then each of the node's roles, in the order given."""
    unknown = unknown_roles(node.settings.roles)
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(ROLES))}")
    for module in (*FEATURES, *(ROLES[role] for role in node.settings.roles)):
        installer: Installer = importlib.import_module(module)  # type: ignore[assignment]
        installer.install(node)
