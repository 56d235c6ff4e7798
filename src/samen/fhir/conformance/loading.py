"""Loading FHIR packages into a registry at start-up: read them all, check them, register them,
generate snapshots.

Every package is read and checked before anything is registered, so a broken file stops the node
before it changes the registry; resources of later packages win over earlier ones with the same URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from samen.fhir.conformance.packages import Package, PackageInfo, read_package
from samen.fhir.conformance.registry import Conformance, ConformanceError
from samen.fhir.conformance.snapshot import generate_snapshots
from samen.fhir.model import Model
from samen.fhir.outcome import Issue
from samen.fhir.validation import Validator

log = structlog.get_logger(__name__)


def load_packages(paths: Sequence[Path], conformance: Conformance, model: Model) -> list[PackageInfo]:
    """Add the packages' conformance resources to ``conformance`` and give every profile a snapshot.

    Raises :class:`~samen.fhir.conformance.ConformanceError` (naming the file) for a package that
    cannot be read, a resource that is no valid R4 StructureDefinition, ValueSet or CodeSystem, a
    profile with an unknown base, a differential element that matches nothing, or a cyclic derivation.
    """
    started = time.perf_counter()
    packages = [read_package(Path(path), model) for path in paths]
    check_against_the_core(packages, model)
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


def check_against_the_core(packages: Sequence[Package], model: Model) -> None:
    """Validate every package resource against the R4 core definitions (not the profiles it claims):
    snapshot generation, validation and terminology read these resources and presume them valid.
    Issues inside extensions are left aside: packages often use extensions outside their contexts,
    and the node does not read those extensions."""
    validator = Validator(model, Conformance())
    for package in packages:
        for resource, source in package.resources:
            errors = [issue for issue in validator.validate(_unprofiled(resource))
                      if issue.severity == "error" and not _inside_an_extension(issue)]
            if errors:
                first = errors[0]
                more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
                raise ConformanceError(source, f"not a valid {resource['resourceType']}: "
                                               f"{', '.join(first.expression)}: {first.diagnostics}{more}")


def _unprofiled(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without the profiles it claims (a shallow copy when it claims any)."""
    meta = resource.get("meta")
    if not isinstance(meta, dict) or "profile" not in meta:
        return resource
    unprofiled = {key: value for key, value in resource.items() if key != "meta"}
    rest = {key: value for key, value in meta.items() if key != "profile"}
    return {**unprofiled, "meta": rest} if rest else unprofiled


def _inside_an_extension(issue: Issue) -> bool:
    return any(".extension[" in path or ".modifierExtension[" in path for path in issue.expression)
