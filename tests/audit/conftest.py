"""The audit trail's tests: the secured clinic node of tests/auth for each engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import Clinic, clinic

from samen.fhir.model import Model


@pytest.fixture
def site(database_url: str, model: Model, tmp_path: Path) -> Iterator[Clinic]:
    with clinic(database_url, model, tmp_path) as served:
        yield served
