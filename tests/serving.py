"""Serve a node over real HTTP on loopback for a test: uvicorn in a background thread on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from samen.fhir.model import Model
from samen.node import Node
from samen.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served_node(database_url: str, model: Model, *, open_mode: bool = True, port: int | None = None,
                **settings: object) -> Iterator[Node]:
    """A node on ``database_url`` answering at ``node.settings.base_url`` until the block ends.

    In open mode (no token needed, as ``samen serve --open`` on loopback) unless the test asks for
    ``open_mode=False``: the tests of authentication and policy do, the others test the FHIR API.
    ``port``: serve there (a node that comes back where it was), else on a free one.
    """
    port = port or free_port()
    settings = {"base_url": f"http://127.0.0.1:{port}/fhir", "open_mode": open_mode, **settings}
    node = Node.open(database_url, Settings(**settings), model)
    config = uvicorn.Config(node.app(), host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test node did not start")
        time.sleep(0.01)
    try:
        yield node
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        node.close()
