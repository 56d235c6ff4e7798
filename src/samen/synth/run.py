"""Running a generation: people in chunks, optionally on several processes, written in order.

The population is cut into blocks of :data:`~samen.synth.data.population.HOUSEHOLD_BLOCK` people
(the unit of household forming) and chunks of :data:`CHUNK_BLOCKS` blocks (the unit of work). Each
chunk is generated from the seed and its block numbers alone, so chunks can run on any process in any
order; the main process writes them in order, and the output is byte-identical for any number of
workers.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from samen import __version__
from samen.synth.care import care_profile
from samen.synth.data.population import HOUSEHOLD_BLOCK
from samen.synth.directory import directory_resources
from samen.synth.output import FolderWriter, Lines, to_bundles, write_manifest
from samen.synth.people import REFERENCE_DATE, make_block
from samen.synth.place_table import read_places
from samen.synth.places import EMBEDDED_PLACES, Place, places_in
from samen.synth.providers import Provider, ProviderNetwork
from samen.synth.randomness import Weighted
from samen.synth.records import PersonRecords, Resource, custodians_of

CHUNK_BLOCKS = 16
FORMATS = ("ndjson", "bundle")


@dataclass(frozen=True)
class SynthOptions:
    people: int
    seed: int = 1
    region: str = "Nederland"
    out: Path = Path("synth")
    format: str = "ndjson"
    workers: int = 1
    places: Path | None = None  # a PC4 table (see place_table.py); None: the embedded places
    population: Path | None = None  # inhabitants per place of that table


class _Generator:
    """The state a worker needs: the region's places and the provider network (deterministic)."""

    def __init__(self, options: SynthOptions) -> None:
        self.options = options
        self.places = places_in(region_places(options), options.region)
        self.weighted_places: Weighted[Place] = Weighted(self.places, [p.inhabitants for p in self.places])
        self.network = ProviderNetwork(options.seed, self.places, options.people)

    def chunk(self, first_block: int) -> Lines:
        options = self.options
        lines: Lines = {}

        def emit(provider: Provider, resource: Resource) -> None:
            key = (provider.key, resource["resourceType"])
            buffer = lines.get(key)
            if buffer is None:
                buffer = lines[key] = bytearray()
            buffer += orjson.dumps(resource)
            buffer += b"\n"

        last_block = min(first_block + CHUNK_BLOCKS, math.ceil(options.people / HOUSEHOLD_BLOCK))
        for block in range(first_block, last_block):
            size = min(HOUSEHOLD_BLOCK, options.people - block * HOUSEHOLD_BLOCK)
            for person in make_block(options.seed, block, size, self.weighted_places):
                care = care_profile(options.seed, person)
                PersonRecords(options.seed, person, care, custodians_of(self.network, options.seed, person),
                              emit).build()
        return lines


def region_places(options: SynthOptions) -> tuple[Place, ...]:
    """The places to choose from: the PC4 table's, or the embedded ones."""
    if options.places is None:
        if options.population is not None:
            raise ValueError("a population table needs a place table (--places)")
        return EMBEDDED_PLACES
    return read_places(options.places, options.population)


_worker: _Generator | None = None


def _start_worker(options: SynthOptions) -> None:
    global _worker
    _worker = _Generator(options)


def _work(first_block: int) -> Lines:
    assert _worker is not None
    return _worker.chunk(first_block)


def generate(options: SynthOptions, progress: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    """Generate the population into ``options.out`` (which must be empty) and return the manifest."""
    if options.format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out = options.out
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    generator = _Generator(options)
    writer = FolderWriter(out)
    for provider in generator.network.providers:
        directory: Lines = {}
        for resource in directory_resources(provider):
            directory.setdefault((provider.key, resource["resourceType"]), bytearray()).extend(
                orjson.dumps(resource) + b"\n")
        writer.write(directory)
    blocks = range(0, math.ceil(options.people / HOUSEHOLD_BLOCK), CHUNK_BLOCKS)
    for first_block, lines in zip(blocks, _chunks(generator, options, blocks)):
        writer.write(lines)
        progress(min(options.people, (first_block + CHUNK_BLOCKS) * HOUSEHOLD_BLOCK) -
                 first_block * HOUSEHOLD_BLOCK)
    if options.format == "bundle":
        for provider in generator.network.providers:
            to_bundles(out / provider.key)
    manifest = _manifest(options, generator.network.providers, writer.counts)
    write_manifest(out, manifest)
    return manifest


def _chunks(generator: _Generator, options: SynthOptions, blocks: range) -> Iterator[Lines]:
    """The chunks' lines in order: in this process, or from a pool that runs a few chunks ahead."""
    if options.workers <= 1:
        yield from map(generator.chunk, blocks)
        return
    with ProcessPoolExecutor(options.workers, initializer=_start_worker, initargs=(options,)) as pool:
        pending: list[Future[Lines]] = []
        ahead = iter(blocks)
        for first_block in ahead:
            pending.append(pool.submit(_work, first_block))
            if len(pending) >= 2 * options.workers:
                break
        while pending:
            lines = pending.pop(0).result()
            next_block = next(ahead, None)
            if next_block is not None:
                pending.append(pool.submit(_work, next_block))
            yield lines


def _manifest(options: SynthOptions, providers: list[Provider], counts: dict[str, Counter[str]]) -> dict[str, Any]:
    custodians = [{
        "folder": p.key, "name": p.name, "ura": p.ura, "agb": p.agb, "kind": p.kind.key,
        "type": {"system": "http://nictiz.nl/fhir/NamingSystem/organization-type", "code": p.kind.type_code,
                 "display": p.kind.type_display},
        "place": p.place.name, "municipality": p.place.municipality or None, "province": p.place.province,
        "position": {"latitude": p.lat, "longitude": p.lon},
        "resources": dict(sorted(counts.get(p.key, Counter()).items())),
    } for p in providers]
    totals: Counter[str] = Counter()
    for custodian in custodians:
        totals.update(custodian["resources"])
    return {
        "generator": f"samen synth {__version__}", "seed": options.seed, "people": options.people,
        "region": options.region, "format": options.format, "referenceDate": REFERENCE_DATE.isoformat(),
        "placeTable": _table_source(options.places), "populationTable": _table_source(options.population),
        "custodians": custodians, "resources": dict(sorted(totals.items())),
    }


def _table_source(path: Path | None) -> dict[str, str] | None:
    """Which table a run read (file name and SHA-256), so the manifest says what the places came from."""
    if path is None:
        return None
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
