"""``samen import``: the command; the work is in :mod:`samen.bulk.importer`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from samen.cli_options import db_option
from samen.settings import Settings

_DEFAULT_BATCH = 1000


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@db_option()
@click.option("--base-url", envvar="SAMEN_BASE_URL", default=Settings().base_url, show_default=True,
              help="The node's public base URL (references on it count as local).")
@click.option("--force", is_flag=True, help="Import files again that were imported before.")
@click.option("--batch-size", default=_DEFAULT_BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="ndjson resources written per batch.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
@click.option("--package", "packages", multiple=True, envvar="SAMEN_PACKAGES",
              type=click.Path(exists=True, path_type=Path),
              help="A FHIR package whose profiles the resources are validated against; repeatable.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Validate every resource like a REST write (--no-validate: structural checks only).")
@click.pass_context
def import_command(ctx: click.Context, paths: tuple[Path, ...], db_url: str, base_url: str, force: bool,
                   batch_size: int, progress: bool | None, packages: tuple[Path, ...], validate: bool) -> None:
    """Import PATHS (files, or directories searched for them) into the database.

    \b
    *.ndjson  one resource per line; ids are kept (create or update Type/id)
    *.json    a batch or transaction Bundle

    Each file is imported in one transaction: a bad line rolls back that file only, is reported with
    its line number, and the command goes on with the next file (and exits with status 1 at the end).
    Imported files are recorded in the database; running the command again skips them.
    """
    from tqdm import tqdm

    from samen.bulk.importer import FileResult, Importer, LineError, find_files
    from samen.fhir.conformance import ConformanceError
    from samen.fhir.model import Model
    from samen.node import conformance_layer
    from samen.store.db import open_database
    from samen.store.store import Store

    files = find_files(paths)
    if not files:
        raise click.UsageError("no .ndjson or .json files found in " + ", ".join(map(str, paths)))
    model = Model.load()
    settings = Settings(base_url=base_url.rstrip("/"), packages=packages, validate=validate)
    try:
        _, terminology, admission = conformance_layer(settings, model)
    except ConformanceError as error:
        raise click.ClickException(str(error)) from error
    database = open_database(db_url)
    try:
        database.migrate()
        store = Store(database, model, settings.base_url)
        importer = Importer(store, settings, admission=admission, code_sets=terminology, batch_size=batch_size,
                            force=force)
        results: list[FileResult] = []
        planned = []
        for path in files:
            try:
                plan = importer.plan(path)
            except (LineError, OSError) as error:
                results.append(FileResult(path, "failed", error=str(error)))
                click.echo(f"failed: {path}: {error}", err=True)
                continue
            if not force and importer.is_recorded(plan.digest):
                results.append(FileResult(path, "skipped"))
            else:
                planned.append(plan)
        started = time.monotonic()
        disable = None if progress is None else not progress
        with tqdm(total=sum(p.size_hint for p in planned), unit="res", unit_scale=True, disable=disable,
                  dynamic_ncols=True, desc="import") as bar:
            for plan in planned:
                bar.set_postfix_str(plan.path.name, refresh=False)
                result = importer.import_file(plan, bar.update)
                results.append(result)
                if result.status == "failed":
                    bar.write(f"failed: {result.path}: {result.error} (the file was rolled back)", file=sys.stderr)
        elapsed = time.monotonic() - started
        if any(r.status == "imported" for r in results):
            importer.refresh_statistics()
    finally:
        database.close()

    imported = [r for r in results if r.status == "imported"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    resources = sum(r.resources for r in imported)
    rate = resources / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"imported {resources} resources from {len(imported)} file(s) in {elapsed:.1f} s ({rate:,.0f} resources/s); "
        f"{len(skipped)} file(s) skipped (imported before), {len(failed)} failed",
        err=True,
    )
    if failed:
        ctx.exit(1)
