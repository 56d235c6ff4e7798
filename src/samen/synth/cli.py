"""``samen synth``: the command; the work is in :mod:`samen.synth.run`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from samen.synth.bsn import MAX_PEOPLE
from samen.synth.places import canonical_region, places_in, region_names
from samen.synth.run import FORMATS, SynthOptions, generate, region_places


@click.command("synth")
@click.option("--people", type=click.IntRange(1, MAX_PEOPLE), required=True, help="Number of people to generate.")
@click.option("--seed", type=click.IntRange(0, 2 ** 32 - 1), default=1, show_default=True,
              help="The same seed (and options) gives the same bytes.")
@click.option("--region", type=click.Choice(region_names(), case_sensitive=False), default="Nederland",
              show_default=True, help="Where the people live: the country, a province or a care region. Providers "
                   "follow Dutch ratios, so for few people choose a small region to keep them near home.")
@click.option("--places", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PC4 table (CSV with province, place, postcode, latitude, longitude; the layout of "
                   "zipcodes.csv is accepted): people get only its postcodes, at its positions "
                   "[default: the embedded places].")
@click.option("--population", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Inhabitants per place of the --places table (CSV with province, place, inhabitants; "
                   "the layout of demographics.csv is accepted) [default: 4,400 per postcode].")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (created; must be empty).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="ndjson", show_default=True,
              help="ndjson: one file per resource type; bundle: transaction Bundles of 1,000 PUT entries.")
@click.option("--workers", type=click.IntRange(1, 64), default=min(2, os.cpu_count() or 1), show_default=True,
              help="Processes generating in parallel (the output is the same for any number).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
def synth_command(people: int, seed: int, region: str, places: Path | None, population: Path | None, out: Path,
                  output_format: str, workers: int, progress: bool | None) -> None:
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

    options = SynthOptions(people=people, seed=seed, region=canonical_region(region), out=out, format=output_format,
                           workers=workers, places=places, population=population)
    try:
        places_in(region_places(options), options.region)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    started = time.monotonic()
    disable = None if progress is None else not progress
    try:
        with tqdm(total=people, unit="people", unit_scale=True, disable=disable, dynamic_ncols=True,
                  desc="synth") as bar:
            manifest = generate(options, bar.update)
    except FileExistsError as error:
        raise click.UsageError(f"{error}: choose an empty or new --out folder") from error
    except OSError as error:  # not a folder, no permission, disk full
        raise click.ClickException(f"cannot write {out}: {error.strerror or error}") from error
    elapsed = time.monotonic() - started
    resources = sum(manifest["resources"].values())
    click.echo(f"{people:,} people, {resources:,} resources for {len(manifest['custodians'])} custodians in "
               f"{elapsed:.1f} s ({people / elapsed:,.0f} people/s); manifest: {out / 'manifest.json'}", err=True)
