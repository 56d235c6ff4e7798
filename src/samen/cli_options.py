"""Command-line pieces that several samen commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def db_option(default: str = "var/samen.db", envvar: str | None = "SAMEN_DB") -> Callable[[F], F]:
    """``--db``: where a node keeps its data."""
    return click.option(
        "--db", "db_url", envvar=envvar, default=default, show_default=True,
        help="Database: a SQLite file path, sqlite:///path, or postgresql://user@host/db.",
    )


def safe_url(db_url: str) -> str:
    """The database URL without its password, for logs and messages."""
    if "@" in db_url and "://" in db_url:
        scheme, rest = db_url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}:***@{host}"
    return db_url
