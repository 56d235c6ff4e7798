"""Assembles one node: database, model, store, router and the ASGI app."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from samen.api.http import create_app
from samen.api.router import Router
from samen.bulk.operations import register as register_bulk_export
from samen.fhir.model import Model
from samen.settings import Settings
from samen.store.db import Database, open_database
from samen.store.store import Store


@dataclass
class Node:
    settings: Settings
    database: Database
    model: Model
    store: Store
    router: Router

    @classmethod
    def open(cls, db_url: str, settings: Settings, model: Model | None = None) -> Node:
        """Open (and migrate) the database and wire the layers together."""
        model = model or Model.load()
        database = open_database(db_url)
        database.migrate()
        store = Store(database, model, settings.base_url)
        router = Router(store, model, settings)
        register_bulk_export(router)  # $export operations; resumes export jobs of crashed processes
        return cls(settings, database, model, store, router)

    def app(self, close_on_shutdown: bool = False) -> Starlette:
        return create_app(self.router, on_shutdown=self.close if close_on_shutdown else None)

    def close(self) -> None:
        self.database.close()
