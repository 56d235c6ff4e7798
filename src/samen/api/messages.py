"""A FHIR request and response independent of any web framework.

The HTTP layer turns an HTTP request into a :class:`FhirRequest`; batch and transaction bundles
turn each entry into one. Both are answered by the same router, as in Medplum's fhir-router.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from samen.auth.context import AccessContext
from samen.fhir.outcome import information
from samen.store.resources import StoredResource


@dataclass
class FhirRequest:
    method: str
    path: str  # relative to the base, without leading slash: "Patient/123/_history"
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None  # parsed JSON: a resource, a JSON Patch list, or None
    if_match: str | None = None
    if_none_exist: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    strict: bool = False  # Prefer: handling=strict
    prefer_return: str = "representation"  # Prefer: return=minimal|representation|OperationOutcome
    prefer_async: bool = False  # Prefer: respond-async (bulk data kick-off)
    base_url: str = ""
    access: AccessContext | None = None  # who asks, for whom, why (from a validated token); None: not authenticated
    client: str = ""  # the caller's network address (for the audit trail)

    @property
    def segments(self) -> list[str]:
        return [segment for segment in self.path.split("/") if segment]

    @classmethod
    def from_url(cls, method: str, url: str, **kwargs: Any) -> FhirRequest:
        """From a bundle entry's ``request.url`` such as ``Patient?identifier=x`` or ``Patient/1``."""
        parts = urlsplit(url)
        return cls(method, parts.path.strip("/"), parse_qsl(parts.query, keep_blank_values=True), **kwargs)


@dataclass
class FhirResponse:
    status: int
    body: dict[str, Any] | bytes | None = None  # the payload when there is no stored resource to show
    stored: StoredResource | None = None  # the resource version this response is about
    location: str | None = None
    outcome: dict[str, Any] | None = None  # an OperationOutcome to show for Prefer: return=OperationOutcome
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self, prefer_return: str = "representation") -> bytes | None:
        """The body to send, honouring ``Prefer: return=`` for responses about a stored resource."""
        if isinstance(self.body, bytes):
            return self.body
        if self.body is not None:
            return orjson.dumps(self.body)
        if prefer_return == "minimal":
            return None
        if prefer_return == "OperationOutcome" or self.stored is None or self.stored.deleted:
            return orjson.dumps(self.outcome or self._default_outcome()) if self.outcome or self.stored else None
        return self.stored.content

    def _default_outcome(self) -> dict[str, Any]:
        assert self.stored is not None
        return information(f"{self.stored.reference} is at version {self.stored.version}")
