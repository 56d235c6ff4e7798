"""The custodian side of localization: this node registers at the index which data categories it holds.

Switched on when the node has an identity (``--keys``) and both ``--localization-index`` and
``--pseudonymiser`` are set (some but not all: a warning at start, nothing switched on). Then:

- every write of patient data queues "(patient, category) may have changed" in the outbox, in the
  writing transaction (:class:`~samen.directory.custodian.outbox.OutboxWriter`, a store write observer);
- a background :class:`~samen.directory.custodian.worker.Worker` takes the outbox in batches and
  registers or deregisters at the index (:mod:`~samen.directory.custodian.sync`), keeping the ledger;
- ``samen localization reconcile`` and ``status`` (:mod:`samen.directory.localization_cli`) repair drift
  and show how far the worker is.

The index's URA (the recipient of the transport tokens) is that of the trust list's organisation
whose FHIR endpoint is the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from samen.auth.client import TokenClient
from samen.auth.keys import KeyStore
from samen.directory.custodian.outbox import OutboxWriter
from samen.directory.custodian.sync import Sender
from samen.directory.custodian.worker import Worker
from samen.directory.localization_client import LocalizationClient, LocalizationError, trusted_ura
from samen.settings import Settings

if TYPE_CHECKING:
    from samen.node import Node

log = structlog.get_logger("samen.directory.custodian")

SERVICE = "custodian"  # node.services key of the Worker
PARTNER_ROLES = frozenset({"pseudonymiser", "localization-index"})  # not custodians: they serve localization


def configuration_problem(settings: Settings) -> str | None:
    """None when localization is switched off or complete; otherwise what is missing."""
    given = {"--localization-index": settings.localization_index, "--pseudonymiser": settings.pseudonymiser,
             "--keys": settings.keys_dir}
    if not settings.localization_index and not settings.pseudonymiser:
        return None
    if PARTNER_ROLES & set(settings.roles):  # the index and the pseudonymiser name each other, as partners
        return None
    missing = [flag for flag, value in given.items() if not value]
    if not settings.trust_list:
        missing.append("--trust-list (it names the index's URA)")
    return f"localization needs {', '.join(missing)} too" if missing else None


def enabled(settings: Settings) -> bool:
    configured = settings.localization_index and settings.pseudonymiser and settings.keys_dir and settings.trust_list
    return bool(configured) and not PARTNER_ROLES & set(settings.roles)


def install(node: Node) -> None:
    problem = configuration_problem(node.settings)
    if problem:
        log.warning(f"{problem}; this node does not register its patients at the localization index")
        return
    if not enabled(node.settings):
        return
    node.store.observers.append(OutboxWriter(node.model))
    worker = Worker(node.store, node.model, lambda: sender(node.settings))
    node.services[SERVICE] = worker
    worker.start()
    node.closers.append(worker.stop)


def sender(settings: Settings) -> Sender:
    """A :class:`Sender` for the configured index; raises :class:`LocalizationError` when it is not trusted."""
    keys = KeyStore(Path(settings.keys_dir))
    index = settings.localization_index.rstrip("/")
    index_ura = trusted_ura(settings.trust_list, index)
    if not index_ura:
        raise LocalizationError(0, f"the localization index {index} is not an organisation in the trust list")
    client = LocalizationClient(TokenClient(keys), index=index, index_ura=index_ura,
                                pseudonymiser=settings.pseudonymiser)
    return Sender(client, keys.ura)
