"""``samen localization``: the custodian's reconcile and status commands (the work is in samen.directory.custodian)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from samen.cli_options import db_option

if TYPE_CHECKING:
    from samen.directory.custodian.ledger import Entry
    from samen.fhir.model import Model
    from samen.store.store import Store

_LEASE_WAIT_S = 150  # a worker's round gives the lease back when it ends (see custodian.state)


@click.group("localization")
def localization_group() -> None:
    """This custodian's registrations at the localization index."""


@localization_group.command("reconcile")
@db_option()
@click.option("--keys", "keys_dir", envvar="SAMEN_KEYS", default="", help="Key directory of this organisation.")
@click.option("--trust-list", envvar="SAMEN_TRUST_LIST", default="", help="The trust list (it names the index's URA).")
@click.option("--localization-index", envvar="SAMEN_LOCALIZATION_INDEX", default="", metavar="FHIR_BASE")
@click.option("--pseudonymiser", envvar="SAMEN_PSEUDONYMISER", default="", metavar="FHIR_BASE")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("--full", is_flag=True, help="Send every registration again (repairs an index that lost entries).")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar [default: on a terminal].")
def reconcile_command(db_url: str, keys_dir: str, trust_list: str, localization_index: str, pseudonymiser: str,
                      dry_run: bool, full: bool, progress: bool | None) -> None:
    """Compare the data this node holds with what it registered, and repair the difference.

    Registers (BSN, category) pairs the ledger misses, deregisters those whose data is gone; with
    --full also sends every registration again (the index keeps one per person, category and custodian).
    """
    from tqdm import tqdm

    from samen.directory import custodian
    from samen.directory.custodian import ledger, state, sync
    from samen.directory.localization_client import LocalizationError
    from samen.settings import Settings

    settings = Settings(keys_dir=keys_dir, trust_list=trust_list, localization_index=localization_index,
                        pseudonymiser=pseudonymiser)
    if not dry_run and not custodian.enabled(settings):
        raise click.UsageError(custodian.configuration_problem(settings)
                               or "give --localization-index, --pseudonymiser, --keys and --trust-list")
    with _store(db_url) as (store, model):
        holder = f"reconcile:{time.time_ns()}"
        if not dry_run:  # before planning: a worker's round may still change the ledger the plan starts from
            _take_lease(store, holder)
        try:
            with store.session(write=False) as session:
                plan = sync.for_everything(session.conn, model, full=full)
            click.echo(f"to register: {len(plan.register)}, to deregister: {len(plan.deregister)}"
                       + (" (dry run: nothing sent)" if dry_run else ""))
            if dry_run or not plan:
                return
            sender = custodian.sender(settings)
            disable = None if progress is None else not progress
            with tqdm(total=len(plan.register) + len(plan.deregister), unit="reg", disable=disable,
                      desc="reconcile") as bar:
                def record(added: Sequence[Entry], removed: Sequence[Entry]) -> None:
                    with store.session(write=True) as session:
                        ledger.record(session.conn, added)
                        ledger.forget(session.conn, removed)
                    with store.session(write=True) as session:  # a long reconcile keeps the lease part by part
                        state.renew(session.conn, holder, _LEASE_WAIT_S * 1000)
                    bar.update(len(added) + len(removed))

                sender.send(plan, record)
        except LocalizationError as error:
            raise click.ClickException(sync.without_bsns(str(error))) from error
        except state.LeaseLost as error:
            raise click.ClickException(f"{error}; what was sent is recorded: run reconcile again") from error
        finally:
            if not dry_run:
                with store.session(write=True) as session:
                    state.release(session.conn, holder)
        click.echo(f"registered {len(plan.register)}, deregistered {len(plan.deregister)}")


@localization_group.command("status")
@db_option()
def status_command(db_url: str) -> None:
    """How far the worker is: changes waiting, registrations kept, last success and last error."""
    from samen.directory.custodian import ledger, outbox, state
    from samen.fhir.primitives import ms_to_instant

    with _store(db_url) as (store, _):
        with store.session(write=False) as session:
            status = state.read(session.conn)
            waiting, kept = outbox.pending(session.conn), ledger.size(session.conn)

    def when(ms: int | None) -> str:
        return ms_to_instant(ms) if ms else "never"

    click.echo(f"pending changes: {waiting}")
    click.echo(f"registrations:   {kept}")
    click.echo(f"last success:    {when(status.last_success_ms)}")
    error = f" ({status.last_error})" if status.last_error else ""
    click.echo(f"last error:      {when(status.last_error_ms)}{error}")
    if status.failures:
        click.echo(f"failures in a row: {status.failures}, next attempt {when(status.retry_at_ms)}")


@contextmanager
def _store(db_url: str) -> Iterator[tuple[Store, Model]]:
    """The node's store on ``db_url`` (migrated), without serving it."""
    from samen.fhir.model import Model
    from samen.store.db import open_database
    from samen.store.store import Store

    database = open_database(db_url)
    try:
        database.migrate()
        model = Model.load()
        yield Store(database, model), model
    finally:
        database.close()


def _take_lease(store: Store, holder: str) -> None:
    """Wait for a worker's round to end, then hold the lease for this reconcile."""
    from samen.directory.custodian import state

    deadline = time.monotonic() + _LEASE_WAIT_S
    while True:
        with store.session(write=True) as session:
            if state.acquire(session.conn, holder, _LEASE_WAIT_S * 1000):
                return
        if time.monotonic() > deadline:
            raise click.ClickException("a node's worker holds the localization lease; try again later")
        time.sleep(0.2)
