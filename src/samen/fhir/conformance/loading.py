"""Loading FHIR packages into a registry at start-up: read them all, register them, generate snapshots.

Every package is read before anything is registered, so a broken file stops the node before it
changes the registry; resources of later packages win over earlier ones with the same URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from samen.fhir.conformance.packages import PackageInfo, read_package
from samen.fhir.conformance.registry import Conformance
from samen.fhir.conformance.snapshot import generate_snapshots
from samen.fhir.model import Model

log = structlog.get_logger(__name__)


def load_packages(paths: Sequence[Path], conformance: Conformance, model: Model) -> list[PackageInfo]:
    """Add the packages' conformance resources to ``conformance`` and give every profile a snapshot.

    Raises :class:`~samen.fhir.conformance.ConformanceError` (naming the file) for a package that
    cannot be read, a profile with an unknown base, a differential element that matches nothing,
    or a cyclic derivation.
    """
    started = time.perf_counter()
    packages = [read_package(Path(path), model) for path in paths]
    for package in packages:
        for resource, source in package.resources:
            conformance.add(resource, source)
    snapshots = generate_snapshots(conformance)
    for package in packages:
        log.info("package loaded", package=package.info.name, version=package.info.version,
                 path=str(package.info.path), **package.info.counts)
    log.info("packages ready", packages=len(packages), snapshots_generated=snapshots,
             seconds=round(time.perf_counter() - started, 3))
    return [package.info for package in packages]
