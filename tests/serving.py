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
def served_node(database_url: str, model: Model, **settings: object) -> Iterator[Node]:
    """A node on ``database_url`` answering at ``node.settings.base_url`` until the block ends."""
    port = free_port()
    node = Node.open(database_url, Settings(base_url=f"http://127.0.0.1:{port}/fhir", **settings), model)
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
