"""Assembles one node: database, model, conformance resources, validator, store, router and the ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from samen import roles

from samen.api import terminology_operations, validate_operation
from samen.api.http import create_app
from samen.api.router import Router
from samen.audit import provider as audit_provider
from samen.audit.trail import AuditTrail
from samen.auth.app_launch import AppLaunch
from samen.auth.enforcement import Enforcer
from samen.auth.node_auth import NodeAuth
from samen.auth.policy import Policy
from samen.bulk.operations import register as register_bulk_export
from samen.fhir.admission import Admission
from samen.fhir.conformance import Conformance
from samen.fhir.conformance.loading import load_packages
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator
from samen.settings import Settings, open_mode_refusal
from samen.store.db import Database, open_database
from samen.store.store import Store

log = structlog.get_logger("samen.node")


@dataclass
class Node:
    settings: Settings
    database: Database
    model: Model
    store: Store
    router: Router
    conformance: Conformance
    terminology: Terminology
    admission: Admission
    auth: NodeAuth
    routes: list[BaseRoute] = field(default_factory=list)  # web pages and endpoints of the roles and features
    services: dict[str, Any] = field(default_factory=dict)  # what roles and features installed, by name
    closers: list[Callable[[], None]] = field(default_factory=list)  # run when the node closes, last first

    @classmethod
    def open(cls, db_url: str, settings: Settings, model: Model | None = None) -> Node:
        """Load the conformance resources, open (and migrate) the database and wire the layers together."""
        if settings.open_mode:
            _check_open_mode(settings)
        model = model or Model.load()
        conformance, terminology, admission = conformance_layer(settings, model)
        auth = NodeAuth.from_settings(settings, model.resource_types)  # a broken identity stops the node here
        database = open_database(db_url)
        database.migrate()
        store = Store(database, model, settings.base_url)
        policy = Policy(model, own_ura=auth.ura or settings.ura, open_mode=settings.open_mode)
        trail = AuditTrail.for_node(database, settings.base_url, db_url)
        router = Router(store, model, settings, admission, code_sets=terminology,
                        enforcer=Enforcer(policy, model, settings.base_url, trust=auth.trust), trail=trail)
        audit_provider.register(router)  # AuditEvent: read and searched from the trail
        register_bulk_export(router)  # $export operations; resumes export jobs of crashed processes
        terminology_operations.register(router, terminology)
        validate_operation.register(router, admission, conformance)
        if settings.citizen_idp:
            auth.app_launch = AppLaunch.for_node(settings, auth, database, router, model.resource_types)
        node = cls(settings, database, model, store, router, conformance, terminology, admission, auth)
        node.services["audit"] = trail
        node.closers.append(trail.close)
        if settings.audit_retention_days:
            node.closers.append(trail.prune_daily(settings.audit_retention_days).set)
        try:
            roles.install(node)
        except BaseException:
            node.close()
            raise
        return node

    def app(self, close_on_shutdown: bool = False) -> Starlette:
        return create_app(self.router, on_shutdown=self.close if close_on_shutdown else None, auth=self.auth,
                          routes=self.routes)

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()
        self.database.close()
        self.auth.close()


def _check_open_mode(settings: Settings) -> None:
    """Open mode only on loopback, and never silently: a warning at every start (of every worker)."""
    refused = open_mode_refusal(settings.base_url)
    if refused:
        raise ValueError(refused)
    log.warning("open mode: this node serves every request without authentication; for development only")


def conformance_layer(settings: Settings, model: Model) -> tuple[Conformance, Terminology, Admission]:
    """The packages' conformance resources, the terminology service over them, and the write gate.

    Raises :class:`~samen.fhir.conformance.ConformanceError` naming the file of a broken package.
    """
    conformance = Conformance()
    load_packages(settings.packages, conformance, model)
    terminology = Terminology(conformance)
    validator = None
    if settings.validate:
        validator = Validator(model, conformance, terminology, required_profiles=settings.profiles_required(),
                              report_must_support=settings.report_must_support)
    return conformance, terminology, Admission(model, validator)
