"""Serving ASGI apps for tests: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from serving import free_port
from starlette.types import ASGIApp

from samen.idp.http import create_idp_app
from samen.idp.keys import IdpKey
from samen.idp.provider import Client, OidcProvider
from samen.idp.providers import CITIZEN_PATH, PROFESSIONAL_PATH, test_providers


@contextmanager
def served_app(app: ASGIApp, port: int) -> Iterator[None]:
    """``app`` answering at http://127.0.0.1:PORT until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class ServedIdp:
    base_url: str
    key: IdpKey
    providers: dict[str, OidcProvider]

    @property
    def citizen(self) -> OidcProvider:
        return self.providers[CITIZEN_PATH]

    @property
    def professional(self) -> OidcProvider:
        return self.providers[PROFESSIONAL_PATH]


@contextmanager
def served_idp(clients: dict[str, tuple[str, ...]], key: IdpKey | None = None) -> Iterator[ServedIdp]:
    """Both test IdPs (a fresh key unless given) with ``clients`` (client id -> redirect URIs)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    key = key or IdpKey.generate()
    registered = tuple(Client(client_id, uris) for client_id, uris in clients.items())
    providers = test_providers(base_url, key, registered)
    with served_app(create_idp_app(providers), port):
        yield ServedIdp(base_url, key, providers)
