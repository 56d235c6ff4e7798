"""``admin-secret``: a one-time login link to the directory management page (a subcommand of ``samen directory``)."""

from __future__ import annotations

from pathlib import Path

import click

from samen.auth.keys import KeyStore
from samen.directory.admin_session import LOGIN_TTL_S, login_link


@click.command("admin-secret")
@click.option("--base-url", envvar="SAMEN_BASE_URL", required=True, help="The node's public FHIR base URL.")
@click.option("--keys", "keys_dir", envvar="SAMEN_KEYS", required=True, type=click.Path(file_okay=False),
              help="The node's keys directory (holds the page's secret).")
@click.option("--ura", envvar="SAMEN_URA", default="", help="The organisation's URA (default: that of the keys).")
def admin_secret(base_url: str, keys_dir: str, ura: str) -> None:
    """Print a one-time login link to the node's address book management page."""
    ura = ura or KeyStore(Path(keys_dir)).ura
    if not ura:
        raise click.UsageError("no URA: give --ura or a keys directory with keys (samen keys create)")
    click.echo(login_link(base_url, keys_dir, ura))
    click.echo(f"valid for {LOGIN_TTL_S // 60} minutes, once", err=True)
