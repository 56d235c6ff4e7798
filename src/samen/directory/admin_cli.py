"""``admin-secret``: a one-time login link to the directory management page, or the end of all its sessions
(a subcommand of ``samen directory``)."""

from __future__ import annotations

from pathlib import Path

import click

from samen.cli_options import db_option


@click.command("admin-secret")
@db_option()
@click.option("--base-url", envvar="SAMEN_BASE_URL", default=None, help="The node's public FHIR base URL.")
@click.option("--keys", "keys_dir", envvar="SAMEN_KEYS", default=None, type=click.Path(file_okay=False),
              help="The node's keys directory (its URA is the default of --ura).")
@click.option("--ura", envvar="SAMEN_URA", default="", help="The organisation's URA (default: that of the keys).")
@click.option("--revoke-all", is_flag=True,
              help="Instead: end every session of the page and void every unused login link.")
def admin_secret(db_url: str, base_url: str | None, keys_dir: str | None, ura: str, revoke_all: bool) -> None:
    """Print a one-time login link to the node's address book management page (kept in the node's database)."""
    from samen.auth.grants import OneTimeGrants
    from samen.auth.keys import KeyStore
    from samen.directory.admin_session import LOGIN_TTL_S, login_link, revoke_all as end_all_sessions
    from samen.store.db import open_database

    ura = ura or (KeyStore(Path(keys_dir)).ura if keys_dir else "")
    if not revoke_all and not ura:
        raise click.UsageError("no URA: give --ura or a keys directory with keys (samen keys create)")
    if not revoke_all and not base_url:
        raise click.UsageError("give the node's --base-url")
    database = open_database(db_url)
    try:
        database.migrate()
        grants = OneTimeGrants(database)
        if revoke_all:
            sessions, links = end_all_sessions(grants)
            click.echo(f"ended {sessions} session(s), voided {links} unused login link(s)")
            return
        click.echo(login_link(base_url or "", grants, ura))
    finally:
        database.close()
    click.echo(f"valid for {LOGIN_TTL_S // 60} minutes, once", err=True)
