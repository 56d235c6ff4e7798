"""The trust list (:mod:`samen.auth.trust`) from a query directory, so that nodes trust whom the directory lists.

Per organisation the root lists (its copy of the root's Organization: URA, name, RoleCodeNL type, ``active``),
the endpoints come from the organisation's own administration directory (the one the root lists for its URA: its
Organization with that URA and the Endpoints of that directory it refers to in ``Organization.endpoint``; copies
from any other source, such as a directory the organisation left, are never used): the FHIR base (connection
type ``hl7-fhir-rest``, not the directory listing), the token endpoint (connection type
``nl-gf-authorization-server-cs#oauth2``) and the JWKS (an authorization-server Endpoint with payload MIME type
``application/jwk-set+json``, see :mod:`samen.directory.mcsd`). An organisation without a published JWKS or FHIR
base is left out (nothing to verify its tokens with), and counted as such.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from samen.directory import mcsd
from samen.directory.sync import ROOT, Source, listed_sources
from samen.sample import ORGANIZATION_TYPE, URA
from samen.store.store import Store


@dataclass
class TrustExport:
    document: dict[str, Any]
    left_out: dict[str, str]  # URA -> why


def trust_list(store: Store) -> TrustExport:
    with store.session(write=False) as session:
        roots = [(row[0], row[1]) for row in session.conn.execute(
            "SELECT url, prefix FROM directory_sync_source WHERE role = ?", (ROOT,))]
        rows = session.conn.execute(
            "SELECT r.res_type, r.res_id, v.content FROM resource r JOIN resource_version v ON v.rid = r.rid "
            "AND v.version = r.version WHERE r.deleted = 0 AND r.res_type IN ('Organization', 'Endpoint')")
    directory_of = {ura: source.prefix for url, _ in roots for source in listed_sources(store, Source(url, ROOT))[0]
                    for ura in source.uras}  # URA -> the id prefix of the directory the root lists for it
    endpoints: dict[str, dict[str, Any]] = {}
    listed: list[dict[str, Any]] = []
    published: dict[str, list[dict[str, Any]]] = {}  # URA -> Organizations of its own administration directory
    for res_type, res_id, content in rows:
        resource = orjson.loads(content)
        if res_type == "Endpoint":
            endpoints[res_id] = resource
        elif any(res_id.startswith(prefix + "-") for _, prefix in roots):
            listed.append(resource)
        else:
            for ura in _uras(resource):
                if ura in directory_of and res_id.startswith(directory_of[ura] + "-"):
                    published.setdefault(ura, []).append(resource)
    organisations, left_out = [], {}
    for organisation in listed:
        for ura in _uras(organisation):
            own = [endpoints[ref] for o in published.get(ura, []) for ref in _endpoint_ids(o)
                   if ref in endpoints and ref.startswith(directory_of[ura] + "-")]  # that directory's own Endpoints
            entry = _entry(ura, organisation, [e for e in own if e.get("status") == "active"])
            if isinstance(entry, str):
                left_out[ura] = entry
            else:
                organisations.append(entry)
    return TrustExport({"organisations": organisations, "issuers": []}, left_out)


def write_trust_list(store: Store, path: Path, issuers: list[dict[str, Any]] | None = None) -> TrustExport:
    """Write the trust list atomically (a new file renamed over the old one: readers never see half of it)."""
    export = trust_list(store)
    export.document["issuers"] = issuers or []
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        file.write(orjson.dumps(export.document, option=orjson.OPT_INDENT_2))
    os.replace(temporary, path)
    return export


def _entry(ura: str, organisation: dict[str, Any], endpoints: list[dict[str, Any]]) -> dict[str, Any] | str:
    types = [c.get("code") for t in organisation.get("type") or [] for c in mcsd.codings(t)
             if c.get("system") == ORGANIZATION_TYPE]
    fhir = next((e["address"] for e in endpoints if mcsd.is_fhir_rest(e) and not mcsd.is_admin_directory(e)), "")
    jwks = next((e["address"] for e in endpoints if mcsd.is_authorization_server(e) and mcsd.is_jwks(e)), "")
    token = next((e["address"] for e in endpoints if mcsd.is_authorization_server(e) and not mcsd.is_jwks(e)),
                 f"{fhir}/auth/token" if fhir else "")
    if not types:
        return "no organisation type (RoleCodeNL) in the root"
    if not fhir or not jwks:
        return "its administration directory publishes no FHIR endpoint or no JWKS endpoint"
    return {"ura": ura, "name": organisation.get("name", ""), "type": types[0],
            "active": organisation.get("active", True) is not False,
            "endpoints": {"fhir": fhir, "token": token}, "jwks_uri": jwks}


def _uras(organisation: dict[str, Any]) -> list[str]:
    return [str(i.get("value")) for i in organisation.get("identifier") or []
            if isinstance(i, dict) and i.get("system") == URA and i.get("value")]


def _endpoint_ids(organisation: dict[str, Any]) -> list[str]:
    return [str(r.get("reference", "")).rsplit("/", 1)[-1] for r in organisation.get("endpoint") or []
            if isinstance(r, dict)]
