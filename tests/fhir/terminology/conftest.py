"""Terminology services over the R4 core, and over the Nictiz zib2020 terminology read from its XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.xml import parse_resource

NICTIZ_TERMINOLOGY_FOLDERS = ("zib/terminology", "nl-core/terminology")


@pytest.fixture(scope="session")
def terminology(conformance: Conformance) -> Terminology:
    """The core R4 code systems and value sets, v2 and v3 tables included."""
    return Terminology(conformance)


@pytest.fixture(scope="session")
def nictiz_terminology(nictiz_dir: Path, model: Model) -> Terminology:
    """The core plus every CodeSystem and ValueSet of the Nictiz terminology folders (FHIR XML)."""
    registry = Conformance()
    for folder in NICTIZ_TERMINOLOGY_FOLDERS:
        for path in sorted((nictiz_dir / folder).glob("*.xml")):
            registry.add(parse_resource(path.read_bytes(), model), str(path))
    return Terminology(registry)
