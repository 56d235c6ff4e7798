"""Fixtures of the search tests: ``bed``, a :class:`search_bed.Bed` on a fresh database of each engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from search_bed import Bed

from samen.fhir.model import Model
from samen.store.db import Database


@pytest.fixture
def bed(database: Database, model: Model) -> Iterator[Bed]:
    with database.connection() as conn:
        yield Bed(conn, model)
