"""Search and history Bundles, written as bytes around the stored JSON so that it is not parsed again."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import orjson

from samen.fhir.primitives import ms_to_instant, now_ms
from samen.store.resources import StoredResource

Projector = Callable[[bytes], bytes]


def page_link(base_url: str, path: str, params: list[tuple[str, str]]) -> str:
    url = f"{base_url}/{path}" if path else base_url
    return f"{url}?{urlencode(params)}" if params else url


def searchset(
    base_url: str,
    matches: Iterable[tuple[str, str, bytes]],
    included: Iterable[tuple[str, str, bytes]],
    *,
    total: int | None,
    links: list[tuple[str, str]],
    warnings: dict[str, Any] | None = None,
    project: Projector | None = None,
) -> bytes:
    """A searchset Bundle; ``matches``/``included`` are (type, id, JSON bytes)."""
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": ms_to_instant(now_ms())},
        "type": "searchset",
    }
    if total is not None:
        head["total"] = total
    head["link"] = [{"relation": relation, "url": url} for relation, url in links]
    entries = [_entry(base_url, t, i, project(c) if project else c, b"match") for t, i, c in matches]
    entries += [_entry(base_url, t, i, project(c) if project else c, b"include") for t, i, c in included]
    if warnings is not None:
        entries.append(b'{"resource":' + orjson.dumps(warnings) + b',"search":{"mode":"outcome"}}')
    return _close(head, entries)


def history(base_url: str, versions: list[StoredResource], *, total: int, links: list[tuple[str, str]]) -> bytes:
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": ms_to_instant(now_ms())},
        "type": "history",
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links],
    }
    entries = []
    for version in versions:
        full_url = f"{base_url}/{version.reference}".encode()
        if version.deleted:
            request = {"method": "DELETE", "url": version.reference}
            response = {"status": "410 Gone", "lastModified": version.last_updated}
            entries.append(
                b'{"fullUrl":"' + full_url + b'","request":' + orjson.dumps(request)
                + b',"response":' + orjson.dumps(response) + b"}"
            )
            continue
        method = "POST" if version.method == "POST" else "PUT"
        request = {"method": method, "url": version.res_type if method == "POST" else version.reference}
        response = {
            "status": "201 Created" if method == "POST" else "200 OK",
            "etag": version.etag,
            "lastModified": version.last_updated,
        }
        assert version.content is not None
        entries.append(
            b'{"fullUrl":"' + full_url + b'","resource":' + version.content + b',"request":'
            + orjson.dumps(request) + b',"response":' + orjson.dumps(response) + b"}"
        )
    return _close(head, entries)


def _entry(base_url: str, res_type: str, res_id: str, content: bytes, mode: bytes) -> bytes:
    full_url = f"{base_url}/{res_type}/{res_id}".encode()
    return b'{"fullUrl":"' + full_url + b'","resource":' + content + b',"search":{"mode":"' + mode + b'"}}'


def _close(head: dict[str, Any], entries: list[bytes]) -> bytes:
    opening = orjson.dumps(head)[:-1]
    if not entries:
        return opening + b"}"
    return opening + b',"entry":[' + b",".join(entries) + b"]}"

