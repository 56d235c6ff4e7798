"""``samen audit``: verify the hash chain, prune by retention, show entries by patient or organisation."""

from __future__ import annotations

import sys

import click
import orjson

from samen.audit import spool
from samen.audit import store as entries
from samen.audit.events import audit_event_of
from samen.audit.trail import AuditTrail
from samen.cli_options import db_option
from samen.store.db import Database, open_database


@click.group("audit")
def audit_command() -> None:
    """The node's audit trail (NEN 7513): verify, prune, show."""


def _open(db_url: str) -> Database:
    """The node's database, with what its processes spooled (also those that crashed) chained first."""
    database = open_database(db_url)
    database.migrate()
    spool.ingest_all(database, spool.spool_directory(database, db_url))
    return database


@audit_command.command("verify")
@db_option()
def verify(db_url: str) -> None:
    """Check the hash chain: exit 0 when intact, 1 naming the first broken entry."""
    database = _open(db_url)
    try:
        with database.connection() as conn:
            verdict = entries.verify_chain(conn)
    finally:
        database.close()
    click.echo(str(verdict))
    sys.exit(0 if verdict.intact else 1)


@audit_command.command("prune")
@db_option()
@click.option("--older-than-days", type=click.IntRange(1), required=True, help="Remove entries older than this.")
def prune(db_url: str, older_than_days: int) -> None:
    """Remove old entries; the chain stays verifiable from the last removed entry (the anchor)."""
    database = _open(db_url)
    try:
        removed = AuditTrail(database, "").prune(older_than_days)
    finally:
        database.close()
    click.echo(f"{removed} entries removed")


@audit_command.command("show")
@db_option()
@click.option("--patient", help="BSN (or Patient/id): who accessed this patient's data.")
@click.option("--organisation", help="URA: what this organisation accessed.")
@click.option("--count", type=click.IntRange(1), default=50, show_default=True)
def show(db_url: str, patient: str | None, organisation: str | None, count: int) -> None:
    """Print matching AuditEvents, newest first, one JSON per line."""
    if not patient and not organisation:
        raise click.UsageError("give --patient or --organisation")
    criteria = entries.Criteria(patients=(patient,) if patient else None,
                                organisations=(organisation,) if organisation else None)
    database = _open(db_url)
    try:
        with database.connection() as conn:
            found = entries.search(conn, criteria, before=None, count=count)
    finally:
        database.close()
    for entry in found:
        event = audit_event_of(entry.event, entry.recorded_ms)
        click.echo(orjson.dumps({"seq": entry.seq, **event}).decode())
