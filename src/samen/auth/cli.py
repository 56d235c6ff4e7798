"""``samen keys``: an organisation's signing keys (create, rotate, list, print the public JWKS)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
import orjson

from samen.auth.keys import DEFAULT_OVERLAP_S, DEFAULT_VALIDITY_S, KeyStore, KeyStoreError

_DAY = 24 * 3600
T = TypeVar("T")


def _keys_dir() -> click.Option:
    return click.option("--dir", "directory", envvar="SAMEN_KEYS", default="var/keys", show_default=True,
                        type=click.Path(file_okay=False, path_type=Path), help="The key directory.")


@click.group("keys")
def keys_command() -> None:
    """The organisation's signing keys (EC P-256), used for client assertions and access tokens."""


@keys_command.command("create")
@click.option("--ura", required=True, help="The organisation's URA (8 digits).")
@_keys_dir()
@click.option("--valid-days", default=DEFAULT_VALIDITY_S // _DAY, show_default=True, type=click.IntRange(1),
              help="How long the key stays valid.")
def keys_create(ura: str, directory: Path, valid_days: int) -> None:
    """Create the organisation's first key."""
    key = _run(lambda: KeyStore(directory).create(ura, validity_s=valid_days * _DAY))
    click.echo(f"created key {key.kid} for URA {ura} in {directory}")


@keys_command.command("rotate")
@_keys_dir()
@click.option("--overlap-hours", default=DEFAULT_OVERLAP_S // 3600, show_default=True, type=click.IntRange(0),
              help="How long the previous keys stay published and accepted.")
@click.option("--valid-days", default=DEFAULT_VALIDITY_S // _DAY, show_default=True, type=click.IntRange(1),
              help="How long the new key stays valid.")
def keys_rotate(directory: Path, overlap_hours: int, valid_days: int) -> None:
    """Make a new current key; the previous ones expire after the overlap."""
    key = _run(lambda: KeyStore(directory).rotate(overlap_s=overlap_hours * 3600, validity_s=valid_days * _DAY))
    click.echo(f"new current key {key.kid}; previous keys expire within {overlap_hours} h")


@keys_command.command("list")
@_keys_dir()
def keys_list(directory: Path) -> None:
    """Every key with its state and validity."""
    store = KeyStore(directory)
    keys = _run(store.keys)
    if not keys:
        raise click.ClickException(f"no keys in {directory}; create them with samen keys create")
    current = _run(store.signing_key).kid if any(key.status(store.clock()) == "valid" for key in keys) else ""
    click.echo(f"URA {store.ura}")
    for key in keys:
        state = "current" if key.kid == current else key.status(store.clock())
        click.echo(f"{key.kid}  {state:<8}  {_date(key.not_before)} .. {_date(key.not_after)}")


@keys_command.command("jwks")
@_keys_dir()
def keys_jwks(directory: Path) -> None:
    """Print the public JWKS (the keys that have not expired), as other organisations should see it."""
    click.echo(orjson.dumps(_run(KeyStore(directory).public_jwks), option=orjson.OPT_INDENT_2).decode())


def _run(action: Callable[[], T]) -> T:
    """The action's result; a key store problem becomes a one-line error."""
    try:
        return action()
    except KeyStoreError as error:
        raise click.ClickException(str(error)) from error


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
