"""Where an organisation's FHIR API is, for eOverdracht: its Organization and Endpoints in the mCSD query directory.

The same question the BgZ asks (:mod:`samen.exchange.custodians`: ITI-90 with a ``directory-query`` token, read by
:func:`~samen.exchange.custodians.custodian_of`), asked synchronously: eOverdracht talks to one organisation at a
time, from the web layer's thread.
"""

from __future__ import annotations

import httpx

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.auth.policy import DIRECTORY_QUERY
from samen.exchange.custodians import DIRECTORY_SCOPES, Custodian, custodian_of
from samen.sample import URA


class AddressNotFound(Exception):
    """The query directory names no FHIR endpoint for the organisation (or could not be asked); says why."""


class Addresses:
    """Looks organisations up in the query directory at ``query_directory`` (a FHIR base)."""

    def __init__(self, query_directory: str, tokens: TokenClient, http: httpx.Client) -> None:
        self.base = query_directory.rstrip("/")
        self.tokens = tokens
        self.http = http
        self.request = TokenRequest(f"{self.base}/auth/token", DIRECTORY_QUERY, DIRECTORY_SCOPES)

    def of(self, ura: str) -> Custodian:
        """The organisation with ``ura`` and its endpoints; raises :class:`AddressNotFound` when it has no FHIR base."""
        try:
            token = self.tokens.token(self.request)
            answer = self.http.get(f"{self.base}/Organization",
                                   params={"identifier": f"{URA}|{ura}", "_include": "Organization:endpoint"},
                                   headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"})
        except (TokenRefused, httpx.HTTPError) as error:
            raise AddressNotFound(f"the query directory could not be asked about {ura}: {error}") from error
        if answer.status_code != 200:
            raise AddressNotFound(f"the query directory answered {answer.status_code} about organisation {ura}")
        found = custodian_of(ura, [entry.get("resource") or {} for entry in answer.json().get("entry") or []])
        if not found.fhir_base:
            raise AddressNotFound(f"the query directory lists no active FHIR endpoint of organisation {ura}")
        return found
