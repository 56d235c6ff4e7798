"""Where an organisation's FHIR API is: its Organization and FHIR Endpoint in the mCSD query directory.

One question per organisation (``Organization?identifier=URA|x&_include=Organization:endpoint``, ITI-90) with a
``directory-query`` token; the answer is the organisation's name and the address of its active ``hl7-fhir-rest``
Endpoint that is not its administration directory.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.auth.policy import DIRECTORY_QUERY
from samen.directory import mcsd
from samen.sample import URA

DIRECTORY_SCOPES = "system/Organization.rs system/Endpoint.rs"


class AddressNotFound(Exception):
    """The query directory names no FHIR endpoint for the organisation (or could not be asked); says why."""


@dataclass(frozen=True)
class Address:
    ura: str
    name: str
    fhir_base: str


class Addresses:
    """Looks organisations up in the query directory at ``query_directory`` (a FHIR base)."""

    def __init__(self, query_directory: str, tokens: TokenClient, http: httpx.Client) -> None:
        self.base = query_directory.rstrip("/")
        self.tokens = tokens
        self.http = http

    def of(self, ura: str) -> Address:
        """The organisation with ``ura``; raises :class:`AddressNotFound`."""
        request = TokenRequest(f"{self.base}/auth/token", DIRECTORY_QUERY, DIRECTORY_SCOPES)
        try:
            token = self.tokens.token(request)
            answer = self.http.get(f"{self.base}/Organization",
                                   params={"identifier": f"{URA}|{ura}", "_include": "Organization:endpoint"},
                                   headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"})
        except (TokenRefused, httpx.HTTPError) as error:
            raise AddressNotFound(f"the query directory could not be asked about {ura}: {error}") from error
        if answer.status_code != 200:
            raise AddressNotFound(f"the query directory answered {answer.status_code} about {ura}")
        resources = [entry.get("resource", {}) for entry in answer.json().get("entry", [])]
        organisations = [r for r in resources if r.get("resourceType") == "Organization"]
        if not organisations:
            raise AddressNotFound(f"the query directory knows no organisation with URA {ura}")
        listed = {f"Endpoint/{r.get('id')}": r for r in resources if r.get("resourceType") == "Endpoint"}
        for organisation in organisations:
            for reference in organisation.get("endpoint", []):
                endpoint = listed.get(reference.get("reference", ""))
                if endpoint is not None and _serves_data(endpoint):
                    return Address(ura, str(organisation.get("name", "")), str(endpoint["address"]).rstrip("/"))
        raise AddressNotFound(f"the query directory lists no active FHIR endpoint of organisation {ura}")


def _serves_data(endpoint: dict[str, object]) -> bool:
    return (endpoint.get("status") == "active" and isinstance(endpoint.get("address"), str)
            and mcsd.is_fhir_rest(endpoint) and not mcsd.is_admin_directory(endpoint))
