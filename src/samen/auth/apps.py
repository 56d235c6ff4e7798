"""The patient apps (PGOs) registered at this node for SMART App Launch: public clients by client id.

Registered in a small JSON file (``--apps``), until app registration has a national register::

    [{"client_id": "pgo-demo", "name": "PGO demo", "redirect_uris": ["https://pgo.example/callback"]}]

A redirect URI must match exactly; an app that is not listed cannot start a launch (deny by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class RegisteredApp:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]


def load_apps(path: Path) -> dict[str, RegisteredApp]:
    """The apps in ``path`` by client id; raises ValueError naming the first entry that is wrong."""
    try:
        entries = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise ValueError(f"{path}: not readable as JSON ({error})") from error
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of apps")
    apps = {}
    for index, entry in enumerate(entries):
        where = f"{path}: app {index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("client_id"), str) or not entry["client_id"]:
            raise ValueError(f"{where}: client_id is required")
        uris = entry.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(_acceptable_redirect(uri) for uri in uris):
            raise ValueError(f"{where}: redirect_uris must list https URIs (http only on this machine)")
        apps[entry["client_id"]] = RegisteredApp(entry["client_id"], str(entry.get("name", "")), tuple(uris))
    return apps


def _acceptable_redirect(uri: object) -> bool:
    """https, or http on loopback for development; no fragment (RFC 6749 3.1.2)."""
    if not isinstance(uri, str):
        return False
    parts = urlsplit(uri)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    return secure and bool(parts.hostname) and not parts.fragment
