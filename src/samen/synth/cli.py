"""``samen synth``: the command; the work is in :mod:`samen.synth.run`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from samen.synth.bsn import MAX_PEOPLE
from samen.synth.data.places import region_names
from samen.synth.run import FORMATS, SynthOptions


@click.command("synth")
@click.option("--people", type=click.IntRange(1, MAX_PEOPLE), required=True, help="Number of people to generate.")
@click.option("--seed", type=click.IntRange(0, 2 ** 32 - 1), default=1, show_default=True,
              help="The same seed (and options) gives the same bytes.")
@click.option("--region", type=click.Choice(region_names(), case_sensitive=False), default="Nederland",
              show_default=True, help="Where the people live: the country, a province or a care region.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (created; must be empty).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="ndjson", show_default=True,
              help="ndjson: one file per resource type; bundle: transaction Bundles of 1,000 PUT entries.")
@click.option("--workers", type=click.IntRange(1, 64), default=min(2, os.cpu_count() or 1), show_default=True,
              help="Processes generating in parallel (the output is the same for any number).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
def synth_command(people: int, seed: int, region: str, out: Path, output_format: str, workers: int,
                  progress: bool | None) -> None:
    """Generate a synthetic Dutch population with care records, one folder per care provider.

    \b
    Each provider (GP practice, pharmacy, hospital, nursing home, home care, mental-health care)
    gets a folder DIR/<kind>-<URA> with its own nl-core FHIR resources: its administration and
    what it holds of the people in its care. Load one into that provider's node with
    `samen import DIR/<kind>-<URA>`. DIR/manifest.json lists the providers (URA, type, name,
    folder) and the resource counts. Every resource is tagged synthetic; BSNs pass the elfproef.

    Example: samen synth --people 10000 --region Rotterdam-Rijnmond --out synth/
    """
    from tqdm import tqdm

    from samen.synth.run import generate

    canonical = {name.lower(): name for name in region_names()}[region.lower()]
    options = SynthOptions(people=people, seed=seed, region=canonical, out=out, format=output_format,
                           workers=workers)
    started = time.monotonic()
    disable = None if progress is None else not progress
    try:
        with tqdm(total=people, unit="people", unit_scale=True, disable=disable, dynamic_ncols=True,
                  desc="synth") as bar:
            manifest = generate(options, bar.update)
    except FileExistsError as error:
        raise click.UsageError(f"{error}: choose an empty or new --out folder") from error
    elapsed = time.monotonic() - started
    resources = sum(manifest["resources"].values())
    click.echo(f"{people:,} people, {resources:,} resources for {len(manifest['custodians'])} custodians in "
               f"{elapsed:.1f} s ({people / elapsed:,.0f} people/s); manifest: {out / 'manifest.json'}", err=True)
