"""What the store hands out: one stored version of one resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from samen.fhir.primitives import ms_to_instant


@dataclass(frozen=True, slots=True)
class StoredResource:
    res_type: str
    res_id: str
    version: int
    updated_ms: int
    deleted: bool
    content: bytes | None  # the JSON as stored (None for a deletion)
    method: str = "PUT"  # how this version came about: POST, PUT, PATCH or DELETE

    @property
    def last_updated(self) -> str:
        return ms_to_instant(self.updated_ms)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def reference(self) -> str:
        return f"{self.res_type}/{self.res_id}"

    def json(self) -> dict[str, Any]:
        if self.content is None:
            raise ValueError(f"{self.reference} version {self.version} is a deletion")
        return orjson.loads(self.content)
