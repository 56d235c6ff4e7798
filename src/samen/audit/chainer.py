"""The audit chainer: the process beside a served node's workers that chains their spool files into the trail.

A worker could chain its own spool (and does, in a node built in-process: a thread of
:class:`~samen.audit.trail.AuditTrail`), but it then spends its GIL on it: decoding, hashing and
sending the entries of every read it served. A worker process is bound by its GIL long before the
machine runs out of cores, so with one worker that cost a tenth of its read throughput; here, in a
process of its own, it costs the workers nearly nothing (docs/benchmarks.md, "Audit trail").
``samen serve`` starts it, and tells the workers (``SAMEN_AUDIT_CHAINER=1``) to chain only every
10 s themselves, in case it is gone. It chains every file of the node's spool directory each
:data:`~samen.audit.trail.INGEST_EVERY_S`, removes the files of processes that ended, and stops
when ``samen serve`` does (SIGTERM, or its parent gone), after a last run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path

import structlog

from samen import logs
from samen.audit import spool as spooling
from samen.audit.trail import CHAINER_ENV, INGEST_EVERY_S, NO_AUDIT_FOR_BENCHMARK
from samen.store.db import Database, open_database

log = structlog.get_logger("samen.audit")


def start(db_url: str, log_level: str) -> BaseProcess | None:
    """Start the chainer of the node on ``db_url`` and tell the workers started after this (their
    environment) that it runs; None when there is nothing for it to chain (an in-memory database has
    a spool per process, and a benchmark may switch the trail off)."""
    if db_url == ":memory:" or os.environ.get(NO_AUDIT_FOR_BENCHMARK) == "1":
        return None
    process = multiprocessing.get_context("spawn").Process(target=run, args=(db_url, os.getpid(), log_level),
                                                           name="samen-audit-chainer", daemon=True)
    process.start()
    os.environ[CHAINER_ENV] = "1"
    return process


def stop(process: BaseProcess | None) -> None:
    """Stop the chainer after its last run (the workers, stopped before it, chained what they spooled)."""
    if process is not None:
        process.terminate()
        process.join(30)


def run(db_url: str, parent: int, log_level: str) -> None:
    """Chain the node's spool until told to stop or ``parent`` (the serving process) is gone."""
    logs.configure(log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: samen serve stops us
    database = open_database(db_url)
    directory = spooling.spool_directory(database, db_url)
    try:
        while not stop.wait(INGEST_EVERY_S) and os.getppid() == parent:
            chain(database, directory)
        chain(database, directory)
    finally:
        database.close()


def chain(database: Database, directory: Path) -> None:
    try:
        spooling.ingest_all(database, directory)
    except Exception:
        log.exception("chaining the audit spool failed; it is tried again")
