"""The query directory: a node that serves the copies the update client (:mod:`samen.directory.sync`) made,
read-only, to ``directory-query`` tokens (the policy's ``directory-query`` rule: reads of the directory types).

Nothing is written here over FHIR by other organisations: the ``directory-update`` rule is switched off. Search
is the node's own: by name, ``Organization?type=``, ``HealthcareService?specialty=``, ``PractitionerRole?specialty=``,
``Location?address-city=``/``address-postalcode=``, ``Location?near=lat|lon|distance|unit``,
``Endpoint?payload-type=``, ``_include`` of the references.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samen.auth.policy import Policy
    from samen.node import Node

SERVICE = "query-directory"


def install(node: Node) -> None:
    refuse_directory_updates(node.router.enforcer.policy)
    node.services[SERVICE] = node.store


def refuse_directory_updates(policy: Policy) -> None:
    """No organisation publishes into this node over FHIR (it holds copies, or the root's own entries)."""
    policy.remove_rules({"directory-update"})
