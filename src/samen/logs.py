"""Structured logging: JSON lines for machines, readable lines on a terminal."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime

import orjson

import structlog


def configure(level: str = "info", json: bool | None = None) -> None:
    """Route structlog and the standard library (uvicorn) through one renderer."""
    json = (not sys.stderr.isatty()) if json is None else json
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # drop filtered-out events before any processor runs (the access log is on the hot path)
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")  # samen's own structured access log replaces it
    access.handlers[:] = []
    access.propagate = False


_access = logging.getLogger("samen.http")


def access(method: str, path: str, status: int, ms: float) -> None:
    """One JSON line per answered request, straight to stderr.

    The same fields as the structlog lines, without their processor chain, which cost about a third
    of the read throughput when every request went through it.
    """
    if not _access.isEnabledFor(logging.INFO):
        return
    line = {
        "method": method,
        "path": path,
        "status": status,
        "ms": ms,
        "event": "request",
        "level": "info",
        "logger": "samen.http",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    os.write(2, orjson.dumps(line) + b"\n")
