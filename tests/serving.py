"""Serve a node (or any ASGI app) over real HTTP on loopback for a test: uvicorn in a background thread on a free port."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from samen.fhir.model import Model
from samen.node import Node
from samen.settings import Settings


def free_port() -> int:
    """A port free now, for a process a test starts (``samen serve --port``): below the ephemeral range, where
    no outgoing connection of this machine can take it before the process binds it."""
    return free_port_block(1)


def free_port_block(count: int, first: int = 10_000) -> int:
    """A first port whose next ``count`` ports are all free now, below the ephemeral range (see free_port)."""
    last = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]) - count
    for _ in range(200):
        base = first + secrets.randbelow(last - first)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no block of {count} free ports")


@contextmanager
def served_app(app: ASGIApp) -> Iterator[str]:
    """``app`` answering at the yielded ``http://127.0.0.1:PORT`` (a free port) until the block ends."""
    with _listening() as listening, _serving(app, listening) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def served_node(database_url: str, model: Model, *, open_mode: bool = True, port: int | None = None,
                **settings: object) -> Iterator[Node]:
    """A node on ``database_url`` answering at ``node.settings.base_url`` until the block ends.

    In open mode (no token needed, as ``samen serve --open`` on loopback) unless the test asks for
    ``open_mode=False``: the tests of authentication and policy do, the others test the FHIR API.
    ``port``: serve there (a node that comes back where it was), else on a free one.
    """
    with _listening(port) as listening:  # bound before the node opens: no other socket can take the port meanwhile
        port = listening.getsockname()[1]
        node = Node.open(database_url, Settings(**{"base_url": f"http://127.0.0.1:{port}/fhir",
                                                   "open_mode": open_mode, **settings}), model)
        try:
            with _serving(node.app(), listening):
                yield node
        finally:
            node.close()


@contextmanager
def _listening(port: int | None = None) -> Iterator[socket.socket]:
    """A socket bound on loopback at ``port`` (else a free one), closed when the block ends."""
    with socket.socket() as listening:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", port or 0))
        yield listening


@contextmanager
def _serving(app: ASGIApp, listening: socket.socket) -> Iterator[int]:
    """uvicorn serving ``app`` on the bound socket ``listening`` in a background thread; yields its port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=listening.getsockname()[1], log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield config.port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
