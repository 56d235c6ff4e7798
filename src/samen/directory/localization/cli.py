"""``samen nvi objection``: the index's operator records or withdraws a person's objection to registration.

The operator holds no BSN either: the person (or their PGO) obtains a transport token for the index
from the pseudonymiser, and the operator enters that token.
"""

from __future__ import annotations

from pathlib import Path

import click

from samen.cli_options import db_option
from samen.directory.localization import storage
from samen.directory.pseudonyms import InvalidToken, load_or_create_encryption_key, unseal
from samen.store.db import open_database


@click.group("nvi")
def nvi_group() -> None:
    """The localization index (NVI role): operator tasks."""


@nvi_group.command("objection")
@db_option()
@click.option("--keys", "keys_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The index's key directory (its encryption key opens the token).")
@click.option("--token", required=True, help="A transport token for this index (from the pseudonymiser).")
@click.option("--withdraw", is_flag=True, help="Withdraw the objection instead of recording it.")
def objection_command(db_url: str, keys_dir: Path, token: str, withdraw: bool) -> None:
    """Record a person's objection (their registrations are removed; new ones are refused) or withdraw it."""
    try:
        pseudonym = unseal(token, load_or_create_encryption_key(keys_dir))
    except InvalidToken as error:
        raise click.ClickException(str(error)) from error
    database = open_database(db_url)
    try:
        database.migrate()
        with database.connection(write=True) as conn:
            conn.begin(write=True)
            try:
                if withdraw:
                    found = storage.withdraw_objection(conn, pseudonym)
                    message = "objection withdrawn" if found else "there was no objection"
                else:
                    removed = storage.object_to_registration(conn, pseudonym)
                    message = f"objection recorded; {removed} registration(s) removed"
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    finally:
        database.close()
    click.echo(message)
