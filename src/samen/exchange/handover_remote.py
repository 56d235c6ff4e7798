"""Calls to another organisation's FHIR API for eOverdracht, each with the token asked for that use.

A refusal or failure of the other node becomes a :class:`HandoverError` with its status and the text of its
OperationOutcome, so that the professional sees why (a 403 of the policy, a 409 of a status jump, ...).
"""

from __future__ import annotations

from typing import Any

import httpx

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.fhir.outcome import FhirError

FHIR_JSON = "application/fhir+json"


class HandoverError(FhirError):
    """An eOverdracht step that could not be done; ``status`` is the HTTP status that fits (or the other node's)."""


class Remote:
    """One organisation's FHIR API at ``base``, called with tokens for ``request`` (renewed once after a 401)."""

    def __init__(self, base: str, tokens: TokenClient, request: TokenRequest, http: httpx.Client) -> None:
        self.base = base.rstrip("/")
        self.tokens = tokens
        self.request = request
        self.http = http

    def get(self, path: str) -> dict[str, Any]:
        return self.call("GET", path)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The resource the other node answers with; raises :class:`HandoverError`."""
        answer = self._send(method, path, body)
        if answer.status_code == 401:  # the token ended early (a restart of the other node): one new token
            self.tokens.forget(self.request)
            answer = self._send(method, path, body)
        if answer.status_code >= 400:
            raise HandoverError(answer.status_code, f"{self.base} answered {answer.status_code} to {method} {path}: "
                                                    f"{_diagnostics(answer)}", "exception")
        return answer.json() if answer.content else {}

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        try:
            token = self.tokens.token(self.request)
        except TokenRefused as error:
            raise HandoverError(403, str(error), "security") from error
        headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
        try:
            return self.http.request(method, f"{self.base}/{path}", json=body, headers=headers)
        except httpx.HTTPError as error:
            raise HandoverError(502, f"{self.base} could not be reached: {error}", "transient") from error


def _diagnostics(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    issues = body.get("issue", []) if isinstance(body, dict) else []
    texts = [str(issue.get("diagnostics", "")) for issue in issues if isinstance(issue, dict)]
    return "; ".join(text for text in texts if text) or answer.text[:200]
