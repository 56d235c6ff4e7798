"""``samen directory``: the addressing commands (root directory entries, the update client, the trust list)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from samen.cli_options import db_option
from samen.directory.admin_cli import admin_secret
from samen.settings import Settings

if TYPE_CHECKING:
    from samen.directory.root import RootDirectory
    from samen.directory.sync import RunResult, TokenSource


@click.group("directory")
def directory_command() -> None:
    """Addressing (IHE mCSD): the root directory, query directories and their update client."""


directory_command.add_command(admin_secret)  # the management page's login link


@directory_command.group("root")
def root_group() -> None:
    """Entries of the root directory (LRZa role): organisations and their administration directories."""


@root_group.command("add")
@db_option()
@click.option("--ura", required=True, help="The organisation's URA (8 digits).")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--type", "org_type", required=True, help="RoleCodeNL organisation type, e.g. V4, Z3, J8.")
@click.option("--endpoint", required=True, help="The FHIR base of its administration directory.")
@click.option("--inactive", is_flag=True, help="Listed, but revoked (trusted for nothing).")
def root_add(db_url: str, ura: str, name: str, org_type: str, endpoint: str, inactive: bool) -> None:
    """Create or replace an organisation's entry."""
    from samen.fhir.outcome import FhirError

    with _root(db_url) as root:
        try:
            root.add(ura, name, org_type, endpoint, active=not inactive)
        except FhirError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"listed {ura} ({name}): administration directory {endpoint}")


@root_group.command("remove")
@db_option()
@click.option("--ura", required=True)
def root_remove(db_url: str, ura: str) -> None:
    """Delete an organisation's entry (it left the network)."""
    with _root(db_url) as root:
        if not root.remove(ura):
            raise click.ClickException(f"{ura} is not listed")
    click.echo(f"removed {ura}")


@directory_command.command("sync")
@db_option()
@click.option("--root", "root_url", required=True, help="The FHIR base of the root directory.")
@click.option("--keys", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="This organisation's keys: get a directory-query token per source (none: anonymous).")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              help="One JSON report per source per run.")
@click.option("--trust-list", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the trust list from the directory after every run (atomic replace).")
@click.option("--exclude", multiple=True, help="An address never to sync from (this query directory's own base).")
@click.option("--every", type=click.FloatRange(min=1), help="Run again every SECONDS until Ctrl-C.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 32))
def sync_command(db_url: str, root_url: str, keys: Path | None, report_dir: Path | None, trust_list: Path | None,
                 exclude: tuple[str, ...], every: float | None, workers: int) -> None:
    """Fill the query directory at --db from the root and every administration directory it lists."""
    from samen.directory.sync import UpdateClient
    from samen.directory.trust_export import write_trust_list
    from samen.fhir.model import Model
    from samen.store.db import open_database
    from samen.store.store import Store

    database = open_database(db_url)
    database.migrate()
    store = Store(database, Model.load())  # copies hold relative references only: no base of its own
    client = UpdateClient(store, tokens=_tokens(keys) if keys else None, workers=workers, exclude=exclude,
                          progress=lambda message: click.echo(message, err=True))
    failed = False
    stop = _stop_on_ctrl_c() if every is not None else None
    try:
        while True:
            result = client.run(root_url)
            failed = any(report.status != "ok" for report in result.reports)
            if report_dir is not None:
                _write_reports(report_dir, result)
            if trust_list is not None:
                export = write_trust_list(store, trust_list)
                click.echo(f"trust list: {len(export.document['organisations'])} organisations, "
                           f"{len(export.left_out)} left out", err=True)
            click.echo(result.summary())
            if stop is None:
                break
            if stop.wait(every):
                click.echo("stopped", err=True)
                break
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        database.close()
    if failed:
        raise SystemExit(1)


def _stop_on_ctrl_c() -> threading.Event:
    """Ctrl-C (or SIGTERM) lets the run in progress finish, so no write is cut off halfway; a second one stops at once."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping after this run (Ctrl-C again to stop now)", err=True)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


@directory_command.command("trust-list")
@db_option()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def trust_list_command(db_url: str, out: Path) -> None:
    """Write the trust list file (samen serve --trust-list) from the query directory at --db."""
    from samen.directory.trust_export import write_trust_list
    from samen.fhir.model import Model
    from samen.store.db import open_database
    from samen.store.store import Store

    database = open_database(db_url)
    try:
        database.migrate()
        export = write_trust_list(Store(database, Model.load()), out)
    finally:
        database.close()
    click.echo(f"{out}: {len(export.document['organisations'])} organisations")
    for ura, why in sorted(export.left_out.items()):
        click.echo(f"left out {ura}: {why}", err=True)


@contextmanager
def _root(db_url: str) -> Iterator[RootDirectory]:
    """The root directory of the node at ``db_url``, opened in-process (closed when the block ends)."""
    from samen.directory.root import SERVICE
    from samen.node import Node

    node = Node.open(db_url, Settings(roles=("root-directory",)))
    try:
        yield node.services[SERVICE]
    finally:
        node.close()


def _tokens(keys_dir: Path) -> TokenSource:
    """Directory-query tokens of this organisation at each source (``{source}/auth/token``)."""
    from samen.auth.client import TokenClient, TokenRequest
    from samen.auth.keys import KeyStore
    from samen.auth.policy import DIRECTORY_QUERY

    client = TokenClient(KeyStore(keys_dir))

    def token(source: str, types: tuple[str, ...]) -> str:
        scopes = " ".join(f"system/{res_type}.rs" for res_type in types)
        return client.token(TokenRequest(f"{source}/auth/token", DIRECTORY_QUERY, scopes))

    return token


def _write_reports(folder: Path, result: RunResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for report in result.reports:
        name = f"{stamp}-{report.role}-{report.source.split('://', 1)[-1].replace('/', '_').replace(':', '_')}.json"
        (folder / name).write_bytes(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2))

