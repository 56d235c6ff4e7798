"""Outbound: a custodian or requester talks to the pseudonymiser and the localization index.

A custodian turns its patients' BSNs into transport tokens for the index (:meth:`pseudonymize`),
registers "I hold category C for this person" (:meth:`register`) and takes it back
(:meth:`deregister`, :meth:`delete`); a requester asks which custodians hold data (:meth:`search`).
Every call gets an access token of this organisation with :class:`~samen.auth.client.TokenClient`.
A transport token is for one transaction: ask the pseudonymiser again for the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from samen.auth.client import TokenClient, TokenRequest
from samen.auth.policy import LOCALIZATION_OBJECTION, LOCALIZATION_REGISTER, LOCALIZATION_SEARCH, PSEUDONYMISATION
from samen.auth.trust import read_trust_list
from samen.directory.categories import SYSTEM as CATEGORY_SYSTEM
from samen.directory.pseudonyms import DEFAULT_SCOPE, TOKEN_SYSTEM
from samen.sample import BSN, URA

IG = "http://minvws.github.io/generiekefuncties-docs"
LIST_PROFILE = f"{IG}/StructureDefinition/nl-gf-localization-list"
CUSTODIAN_EXTENSION = f"{IG}/StructureDefinition/nl-gf-localization-custodian"
EMPTY_REASON = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "withheld"}]}
REGISTER_SCOPES = "system/List.cruds"
SEARCH_SCOPES = "system/List.rs"
PSEUDONYMISE_SCOPES = "system/Parameters.c"  # $pseudonymize needs no resource permission; a scope is required
OBJECTION_SCOPES = "system/List.d"  # $objection (only the pseudonymiser calls it) removes a person's registrations
OBJECTED = 409  # the index's answer to a registration of a person who objects to being registered


class LocalizationError(Exception):
    """The pseudonymiser or the index refused or failed; ``status`` is the HTTP status (0: unreachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Registration:
    """One registration to make: this transport token's person has data of ``category`` at ``custodian``."""

    token: str
    category: str
    custodian: str  # URA


@dataclass(frozen=True)
class Location:
    """One answer of a search: ``custodian`` (URA) holds data of ``category``; ``id`` of the List at the index."""

    id: str
    custodian: str
    category: str


def registration_list(token: str, category: str, custodian: str) -> dict[str, Any]:
    """The IG's localization List (nl-gf-localization-list) for one registration."""
    return {
        "resourceType": "List",
        "meta": {"profile": [LIST_PROFILE]},
        "extension": [{"url": CUSTODIAN_EXTENSION,
                       "valueReference": {"identifier": {"system": URA, "value": custodian}}}],
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": CATEGORY_SYSTEM, "code": category}]},
        "subject": {"identifier": {"system": TOKEN_SYSTEM, "value": token}},
        "emptyReason": EMPTY_REASON,
    }


def trusted_ura(trust_file: str | Path, fhir_base: str) -> str:
    """The URA of the active organisation in the trust list whose FHIR endpoint is ``fhir_base``; "" if none.

    Read from the file at each call: for the rare calls that need it (a worker round, an objection), so a
    change of the list counts at once.
    """
    base = fhir_base.rstrip("/")
    listed = read_trust_list(Path(trust_file)).organisations.values()
    return next((org.ura for org in listed if org.active and base and org.fhir_base.rstrip("/") == base), "")


class LocalizationClient:
    """This organisation's calls to one pseudonymiser and one localization index (FHIR bases)."""

    def __init__(self, tokens: TokenClient, *, index: str, index_ura: str, pseudonymiser: str = "",
                 http: httpx.Client | None = None) -> None:
        """``index_ura``: the index's URA, the recipient its transport tokens are made for."""
        self.tokens = tokens
        self.index = index.rstrip("/")
        self.index_ura = index_ura
        self.pseudonymiser = pseudonymiser.rstrip("/")
        self.http = http or httpx.Client(timeout=30)

    # -- pseudonymiser ----------------------------------------------------------------------------

    def pseudonymize(self, bsns: Sequence[str], recipient_ura: str | None = None,
                     scope: str = DEFAULT_SCOPE) -> list[str]:
        """One fresh transport token per BSN (in order), for ``recipient_ura`` (default: the index)."""
        if not bsns:
            return []
        parameters = [{"name": "identifier", "valueIdentifier": {"system": BSN, "value": bsn}} for bsn in bsns]
        recipient = {"system": URA, "value": recipient_ura or self.index_ura}
        parameters.append({"name": "recipient", "valueIdentifier": recipient})
        parameters.append({"name": "scope", "valueString": scope})
        answer = self._call(self.pseudonymiser, PSEUDONYMISATION, PSEUDONYMISE_SCOPES, "POST", "$pseudonymize",
                            json={"resourceType": "Parameters", "parameter": parameters})
        return [p["valueIdentifier"]["value"] for p in answer.get("parameter", []) if p.get("name") == "token"]

    # -- index --------------------------------------------------------------------------------------

    def register(self, registrations: Iterable[Registration]) -> list[str]:
        """Register in one transaction (all or nothing); the ids of the Lists, in order."""
        entries = [{"resource": registration_list(r.token, r.category, r.custodian),
                    "request": {"method": "POST", "url": "List"}} for r in registrations]
        if not entries:
            return []
        answer = self._call(self.index, LOCALIZATION_REGISTER, REGISTER_SCOPES, "POST", "",
                            json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
        return [entry["response"]["location"].split("/")[1] for entry in answer.get("entry", [])]

    def register_each(self, registrations: Iterable[Registration]) -> list[str | None]:
        """Register each on its own (a batch): the ids in order, None where the person objects (409).

        Raises :class:`LocalizationError` for any other refusal of an entry (what was accepted stays registered:
        registering again is harmless).
        """
        entries = [{"resource": registration_list(r.token, r.category, r.custodian),
                    "request": {"method": "POST", "url": "List"}} for r in registrations]
        if not entries:
            return []
        answer = self._call(self.index, LOCALIZATION_REGISTER, REGISTER_SCOPES, "POST", "",
                            json={"resourceType": "Bundle", "type": "batch", "entry": entries})
        ids: list[str | None] = []
        for n, entry in enumerate(answer.get("entry", [])):
            response = entry.get("response", {})
            status = int(str(response.get("status", "0")).split(" ")[0] or 0)
            if status == OBJECTED:
                ids.append(None)
            elif 200 <= status < 300:
                ids.append(response["location"].split("/")[1])
            else:
                raise LocalizationError(status, f"the index refused registration {n} of a batch with {status}")
        return ids

    def deregister(self, token: str, category: str | None = None) -> None:
        """Remove this organisation's registrations for a person (of one category, or all)."""
        params = {"subject:identifier": f"{TOKEN_SYSTEM}|{token}"}
        if category:
            params["code"] = f"{CATEGORY_SYSTEM}|{category}"
        self._call(self.index, LOCALIZATION_REGISTER, REGISTER_SCOPES, "DELETE", "List", params=params)

    def delete(self, registration_id: str) -> None:
        """Remove one registration of this organisation by its id."""
        self._call(self.index, LOCALIZATION_REGISTER, REGISTER_SCOPES, "DELETE", f"List/{registration_id}")

    def object(self, token: str, objects: bool) -> int:
        """Record (``objects``) or withdraw the objection of the person of ``token`` (only the pseudonymiser the
        index trusts may); how many registrations were removed."""
        parameters = [{"name": "token", "valueIdentifier": {"system": TOKEN_SYSTEM, "value": token}},
                      {"name": "objection", "valueBoolean": objects}]
        answer = self._call(self.index, LOCALIZATION_OBJECTION, OBJECTION_SCOPES, "POST", "$objection",
                            json={"resourceType": "Parameters", "parameter": parameters})
        return next((p["valueInteger"] for p in answer.get("parameter", []) if p.get("name") == "removed"), 0)

    def search(self, token: str, categories: Sequence[str] | None = None) -> list[Location]:
        """Which custodians hold data (of these categories, or any) for the person of ``token``."""
        form = {"subject:identifier": f"{TOKEN_SYSTEM}|{token}"}
        if categories:
            form["code"] = ",".join(f"{CATEGORY_SYSTEM}|{code}" for code in categories)
        bundle = self._call(self.index, LOCALIZATION_SEARCH, SEARCH_SCOPES, "POST", "List/_search", data=form)
        return [_location(entry["resource"]) for entry in bundle.get("entry", [])
                if entry.get("resource", {}).get("resourceType") == "List"]

    def _call(self, base: str, purpose: str, scopes: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if not base:
            raise LocalizationError(0, f"no FHIR base configured for {purpose}")
        request = TokenRequest(f"{base}/auth/token", purpose, scopes)
        url = f"{base}/{path}" if path else base
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self.tokens.token(request)}", "Accept": "application/fhir+json"}
            try:
                answer = self.http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as error:
                raise LocalizationError(0, f"{url} unreachable: {error}") from error
            if answer.status_code == 401 and attempt == 0:
                self.tokens.forget(request)  # expired or revoked: one fresh token
                continue
            break
        if answer.status_code >= 400:
            raise LocalizationError(answer.status_code, f"{method} {url} answered {answer.status_code}: "
                                                        f"{_diagnostics(answer)}")
        return answer.json() if answer.content else {}


def _location(resource: dict[str, Any]) -> Location:
    custodian = next((e["valueReference"]["identifier"]["value"] for e in resource.get("extension", [])
                      if e.get("url") == CUSTODIAN_EXTENSION), "")
    return Location(resource.get("id", ""), custodian, resource["code"]["coding"][0]["code"])


def _diagnostics(answer: httpx.Response) -> str:
    try:
        body = answer.json()
        return "; ".join(issue.get("diagnostics", "") for issue in body.get("issue", [])) or answer.text[:200]
    except ValueError:
        return answer.text[:200]
