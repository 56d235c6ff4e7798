"""Where a person's data is: the custodians the localization index names, and their endpoints in the query directory.

Localization: the BSN is turned into a transport token for the index by the pseudonymiser, and the index is asked
which custodians (URAs) hold data of that person (:class:`~samen.directory.localization_client.LocalizationClient`).

Addressing (IHE mCSD, ITI-90): ``GET [query directory]/Organization?identifier=<URA system>|<URA>&_include=
Organization:endpoint`` with a token of this organisation (purpose ``directory-query``). The query directory holds
the root's copy of the Organization and the copy of the organisation's own administration directory; the Endpoints
of all copies count. The FHIR base is the active ``hl7-fhir-rest`` Endpoint that is not an administration directory,
the token endpoint the active authorization-server Endpoint that is not a JWKS (default ``[FHIR base]/auth/token``),
as the trust list export reads them (:mod:`samen.directory.trust_export`). Answers are kept for a minute.
"""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import httpx

from samen.auth.client import TokenClient, TokenRefused, TokenRequest
from samen.auth.policy import DIRECTORY_QUERY
from samen.directory import mcsd
from samen.directory.localization_client import LocalizationClient
from samen.sample import URA

DIRECTORY_SCOPES = "system/Organization.rs system/Endpoint.rs"
CACHE_S = 60.0


@dataclass(frozen=True)
class Custodian:
    """An organisation holding data of the person, and where to ask for it ("" when the directory has no endpoint)."""

    ura: str
    name: str = ""
    fhir_base: str = ""
    token_endpoint: str = ""


class DirectoryError(Exception):
    """The query directory could not be asked (unreachable, refused, unreadable)."""


def localize(localization: LocalizationClient, bsn: str) -> list[str]:
    """The URAs of the custodians the index names for ``bsn`` (each once, in the index's order)."""
    token = localization.pseudonymize([bsn])[0]
    return list(dict.fromkeys(location.custodian for location in localization.search(token) if location.custodian))


class QueryDirectory:
    """Looks custodians up in one mCSD query directory (its FHIR base); safe to share between event loops."""

    def __init__(self, base: str, tokens: TokenClient, executor: Executor | None, *, cache_s: float = CACHE_S) -> None:
        """``executor``: the threads for the blocking token requests (see :class:`~samen.exchange.retrieval.Retrieval`);
        None: the event loop's own (for a loop that runs one lookup, as eOverdracht's)."""
        self.base = base.rstrip("/")
        self.tokens = tokens
        self.executor = executor
        self.cache_s = cache_s
        self.token_request = TokenRequest(f"{self.base}/auth/token", DIRECTORY_QUERY, DIRECTORY_SCOPES)
        self._cache: dict[str, tuple[Custodian, float]] = {}

    async def resolve(self, http: httpx.AsyncClient, ura: str, deadline: float) -> Custodian:
        """The custodian with its endpoints (empty when the directory lists none); raises :class:`DirectoryError`.
        ``deadline`` (``time.monotonic()``) bounds the token request's thread."""
        cached = self._cache.get(ura)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        bundle = await self._search(http, ura, deadline)
        custodian = custodian_of(ura, [entry.get("resource") or {} for entry in bundle.get("entry") or []])
        self._cache[ura] = (custodian, time.monotonic() + self.cache_s)
        return custodian

    async def _search(self, http: httpx.AsyncClient, ura: str, deadline: float) -> dict[str, Any]:
        params = {"identifier": f"{URA}|{ura}", "_include": "Organization:endpoint"}
        for attempt in range(2):
            try:
                token = await token_within(self.tokens, self.executor, self.token_request, deadline)
            except TokenRefused as error:
                raise DirectoryError(f"query directory: {error}") from error
            try:
                answer = await http.get(f"{self.base}/Organization", params=params,
                                        headers={"Authorization": f"Bearer {token}", "Accept": mcsd.FHIR_JSON_MIME})
            except httpx.HTTPError as error:
                raise DirectoryError(f"query directory {self.base} unreachable: {error!r}") from error
            if answer.status_code == 401 and attempt == 0:
                self.tokens.forget(self.token_request)
                continue
            if answer.status_code != 200:
                raise DirectoryError(f"query directory {self.base} answered {answer.status_code}")
            try:
                return answer.json()
            except ValueError as error:
                raise DirectoryError(f"query directory {self.base} sent no JSON") from error
        raise DirectoryError(f"query directory {self.base} refused this organisation's token")


async def token_within(tokens: TokenClient, executor: Executor | None, request: TokenRequest, deadline: float) -> str:
    """A token from ``tokens`` in a thread of ``executor`` whose HTTP request ends by ``deadline``
    (``time.monotonic()``): a caller that stops waiting at its time limit leaves no thread behind waiting longer,
    so a hanging token endpoint cannot take the threads other custodians' token requests need."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    return await asyncio.get_running_loop().run_in_executor(
        executor, functools.partial(tokens.token, request, timeout_s=remaining))


def custodian_of(ura: str, resources: list[dict[str, Any]]) -> Custodian:
    """The custodian ``ura`` from a search result of Organizations with that URA and their included Endpoints."""
    organisations = [r for r in resources if r.get("resourceType") == "Organization"
                     and any(i.get("system") == URA and i.get("value") == ura for i in r.get("identifier") or [])]
    endpoint_ids = {str(ref.get("reference", "")).rsplit("/", 1)[-1] for o in organisations
                    for ref in o.get("endpoint") or [] if isinstance(ref, dict)}
    endpoints = [r for r in resources if r.get("resourceType") == "Endpoint" and r.get("id") in endpoint_ids
                 and r.get("status") == "active"]
    name = next((o["name"] for o in organisations if o.get("name")), "")
    fhir = next((e["address"] for e in endpoints if mcsd.is_fhir_rest(e) and not mcsd.is_admin_directory(e)), "")
    token = next((e["address"] for e in endpoints if mcsd.is_authorization_server(e) and not mcsd.is_jwks(e)),
                 f"{fhir.rstrip('/')}/auth/token" if fhir else "")
    return Custodian(ura, name, fhir.rstrip("/"), token)
