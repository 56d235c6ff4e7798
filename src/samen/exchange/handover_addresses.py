"""Where an organisation's FHIR API is, for eOverdracht: the BgZ's lookup in the mCSD query directory, asked synchronously.

The one lookup is :class:`~samen.exchange.custodians.QueryDirectory` (ITI-90 with a ``directory-query`` token, kept
for a minute); eOverdracht talks to one organisation at a time from the web layer's thread, so it runs that lookup
in an event loop of its own.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from samen.exchange.custodians import Custodian, DirectoryError, QueryDirectory


class AddressNotFound(Exception):
    """The query directory names no FHIR endpoint for the organisation (or could not be asked); says why."""


class Addresses:
    """Looks organisations up in ``directory`` within ``timeout_s``."""

    def __init__(self, directory: QueryDirectory, timeout_s: float) -> None:
        self.directory = directory
        self.timeout_s = timeout_s
        self.tls = httpx.create_ssl_context()  # made once: loading the CA certificates takes tens of ms

    def of(self, ura: str) -> Custodian:
        """The organisation with ``ura`` and its endpoints; raises :class:`AddressNotFound` when it has no FHIR base."""
        try:
            found = asyncio.run(self._resolve(ura))
        except (DirectoryError, TimeoutError) as error:
            raise AddressNotFound(f"the query directory could not be asked about {ura}: {error}") from error
        if not found.fhir_base:
            raise AddressNotFound(f"the query directory lists no active FHIR endpoint of organisation {ura}")
        return found

    async def _resolve(self, ura: str) -> Custodian:
        async with httpx.AsyncClient(timeout=self.timeout_s, verify=self.tls) as http:
            return await self.directory.resolve(http, ura, time.monotonic() + self.timeout_s)
