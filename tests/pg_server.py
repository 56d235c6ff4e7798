"""A throwaway PostgreSQL server for the test suite, and a fresh database on it for each test.

One server serves a whole pytest run, xdist workers included:

- the controlling pytest process calls :func:`begin_run` (from ``pytest_configure``): it makes a run
  folder ``samen-pg-XXXX`` in RAM-backed /dev/shm (else ``$SAMEN_TEST_PG_TMP`` or the temp folder)
  and names it in ``$SAMEN_TEST_PG_RUN``, which the workers inherit;
- the first process that needs PostgreSQL (:func:`session_server`) starts the server under a file
  lock in that folder and writes ``server.json``; the others read it;
- :func:`end_run` (``pytest_unconfigure`` of the controller, and atexit) stops the server and
  removes the folder. Folders left by a run that was killed are swept by the next run.

The server runs ``initdb``/``pg_ctl`` from PATH, ``$SAMEN_TEST_PG_BIN`` or the newest
``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user, or else a ``samen-test`` system user made for it, through ``runuser``. It listens
on a free port of 127.0.0.1 only, with durability switched off for speed.

``$SAMEN_TEST_POSTGRES_URL`` (a role that may CREATE DATABASE) replaces all of this with a server of
your own.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

URL_ENV = "SAMEN_TEST_POSTGRES_URL"
RUN_ENV = "SAMEN_TEST_PG_RUN"
BIN_ENV = "SAMEN_TEST_PG_BIN"
TMP_ENV = "SAMEN_TEST_PG_TMP"
TEST_USER = "samen-test"
RUN_PREFIX = "samen-pg-"
SUPERUSER = "samen"

# Durability off, nothing that a test does not need; none of these change query results.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'1GB'",
    "checkpoint_timeout": "'1h'",
    "max_connections": str(min(1000, 200 + 20 * (os.cpu_count() or 2))),  # xdist workers x connection pools
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be had; the message says what to install or set."""


@dataclass
class Server:
    """A PostgreSQL server the tests may create databases on."""

    url: str  # superuser URL of the maintenance database "postgres"
    run: str | None = None  # run folder of a server started here; None for $SAMEN_TEST_POSTGRES_URL
    user: str | None = None  # OS user the server runs as, when started through runuser
    bin_dir: str | None = None

    @property
    def data_dir(self) -> Path | None:
        return Path(self.run) / "pg" / "data" if self.run else None

    def postmaster_pid(self) -> int | None:
        """The server's process id (None for an external server)."""
        if self.data_dir is None:
            return None
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"samen_test_{uuid.uuid4().hex[:16]}"
        conn = self._admin()
        strategy = " STRATEGY = FILE_COPY" if conn.info.server_version >= 150000 else ""  # fast for small templates
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template1{strategy}')
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))

    def drop_database(self, url: str) -> None:
        """Drop a database of :meth:`create_database` once its last connection has ended.

        A backend ends a moment after its client closes, and DROP DATABASE waits 100 ms for one
        still exiting; so a database in use is dropped on a later call, or at exit."""
        name = urlsplit(url).path.lstrip("/")
        if not re.fullmatch(r"samen_test_[0-9a-f]{16}", name):
            raise ValueError(f"not a test database: {name!r}")
        pending = _pending_drops.setdefault(self.url, set())
        pending.add(name)
        if self.run is None and not _external_cleanup:
            _external_cleanup.append(atexit.register(_drop_all_pending))  # that server outlives this run
        busy = {n for (n,) in self._admin().execute(
            "SELECT datname FROM pg_stat_activity WHERE datname = ANY(%s)", [list(pending)])}
        for idle in pending - busy:
            self._drop(idle)

    def _drop(self, name: str, force: bool = False) -> None:
        conn = self._admin()
        with_force = " WITH (FORCE)" if force and conn.info.server_version >= 130000 else ""
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"{with_force}')
        _pending_drops[self.url].discard(name)

    def _admin(self):  # -> psycopg.Connection
        import psycopg

        conn = _admin_connections.get(self.url)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=30)
            _admin_connections[self.url] = conn
        return conn


_admin_connections: dict[str, object] = {}
_pending_drops: dict[str, set[str]] = {}  # server URL -> databases to drop when their connections end
_external_cleanup: list[object] = []


def _drop_all_pending() -> None:
    """At exit, for $SAMEN_TEST_POSTGRES_URL: drop what is left, ending any connection still open."""
    for url, names in list(_pending_drops.items()):
        for name in list(names):
            try:
                Server(url=url)._drop(name, force=True)
            except Exception as error:  # noqa: BLE001 - at exit, a warning is all that can be done
                print(f"pg_server: could not drop test database {name}: {error}")


# -- the run: one per pytest invocation ------------------------------------------------------------


def begin_run() -> Path:
    """Make this run's folder (the server itself starts only when a test needs it)."""
    _sweep_stale_runs()
    run = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=_temp_base()))
    run.chmod(0o755)  # the server user must be able to reach pg/ inside it
    (run / "owner.pid").write_text(str(os.getpid()))
    os.environ[RUN_ENV] = str(run)
    atexit.register(end_run, run)
    return run


def end_run(run: Path | str | None = None) -> None:
    """Stop this run's server, if one was started, and remove its folder. Safe to call twice."""
    run = Path(run or os.environ.get(RUN_ENV) or "")
    if not run.name.startswith(RUN_PREFIX) or not run.is_dir():
        return
    for conn in list(_admin_connections.values()):
        conn.close()  # type: ignore[attr-defined]
    _admin_connections.clear()
    _pending_drops.clear()  # they go with the server
    info = run / "server.json"
    if info.exists():
        _stop(Server(**json.loads(info.read_text())))
    shutil.rmtree(run, ignore_errors=True)


def session_server() -> Server:
    """The server for this process: $SAMEN_TEST_POSTGRES_URL, or this run's, started on first use."""
    external = os.environ.get(URL_ENV)
    if external:
        return Server(url=external)
    run_name = os.environ.get(RUN_ENV)
    run = Path(run_name) if run_name and Path(run_name).is_dir() else begin_run()
    with _locked(run / "lock"):
        info = run / "server.json"
        if info.exists():
            return Server(**json.loads(info.read_text()))
        server = _start(run)
        info.touch(mode=0o600)  # it holds the password
        info.write_text(json.dumps(asdict(server)))
        return server


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- starting and stopping -------------------------------------------------------------------------


def find_bin_dir() -> Path:
    """The folder with initdb and pg_ctl: $SAMEN_TEST_PG_BIN, PATH, or the newest Debian one."""
    candidates: list[Path] = []
    if os.environ.get(BIN_ENV):
        candidates.append(Path(os.environ[BIN_ENV]))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)], reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        + (f"${BIN_ENV}, " if os.environ.get(BIN_ENV) else "")
        + "PATH or /usr/lib/postgresql/*/bin. The tests run on both SQLite and PostgreSQL: install it "
        "(Debian: apt-get install postgresql; scripts/test.sh does this), point "
        f"{BIN_ENV} at its bin folder, or set {URL_ENV}=postgresql://user:password@host/postgres."
    )


def server_user() -> str | None:
    """The OS user to run the server as; None means the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", TEST_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    created = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        pwd.getpwnam(TEST_USER)  # also fine when a parallel run made it first
    except KeyError:
        raise PostgresUnavailable(f"could not create the system user {TEST_USER}: {created.stderr.strip()}") from None
    return TEST_USER


def _start(run: Path) -> Server:
    bin_dir = find_bin_dir()
    user = server_user()
    pg = run / "pg"
    shutil.rmtree(pg, ignore_errors=True)  # what a failed start in another worker left
    pg.mkdir(mode=0o700)
    if user:
        shutil.chown(pg, user, user)
    password = secrets.token_hex(16)
    pwfile = pg / "pwfile"
    pwfile.write_text(password)
    pwfile.chmod(0o600)
    if user:
        shutil.chown(pwfile, user, user)
    _as(user, [
        str(bin_dir / "initdb"), "--pgdata", str(pg / "data"), "--username", SUPERUSER, "--pwfile", str(pwfile),
        "--auth-host", "scram-sha-256", "--auth-local", "trust", "--encoding", "UTF8", "--locale", "C.UTF-8",
        "--no-sync", "--no-instructions",
    ], what="initdb")
    pwfile.unlink()
    settings = {**SETTINGS, "unix_socket_directories": f"'{pg}'"}
    with open(pg / "data" / "postgresql.conf", "a") as conf:  # appending keeps the file's owner
        conf.write("\n# samen test server\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    for attempt in range(5):  # a free port can be taken by someone else before the server binds it
        port = _free_port()
        try:
            _as(user, [
                str(bin_dir / "pg_ctl"), "start", "--pgdata", str(pg / "data"), "--log", str(pg / "postgres.log"),
                "--wait", "--timeout", "60", "--silent", "-o", f"-p {port}",
            ], what="pg_ctl start")
            break
        except PostgresUnavailable:
            log = (pg / "postgres.log").read_text(errors="replace") if (pg / "postgres.log").exists() else ""
            if attempt == 4 or "could not bind" not in log:
                raise PostgresUnavailable(f"PostgreSQL did not start; its log ({pg / 'postgres.log'}):\n{log[-3000:]}")
    url = f"postgresql://{SUPERUSER}:{quote(password)}@127.0.0.1:{port}/postgres"
    return Server(url=url, run=str(run), user=user, bin_dir=str(bin_dir))


def _stop(server: Server) -> None:
    assert server.data_dir is not None and server.bin_dir is not None
    if not (server.data_dir / "postmaster.pid").exists():
        return
    pg_ctl = [str(Path(server.bin_dir) / "pg_ctl"), "stop", "--pgdata", str(server.data_dir), "--wait", "--silent"]
    try:
        _as(server.user, [*pg_ctl, "--mode", "fast", "--timeout", "30"], what="pg_ctl stop")
    except PostgresUnavailable:
        _as(server.user, [*pg_ctl, "--mode", "immediate", "--timeout", "30"], what="pg_ctl stop", check=False)


def _sweep_stale_runs() -> None:
    """Stop and remove the servers of earlier runs whose pytest process is gone (killed, say)."""
    for run in Path(_temp_base()).glob(RUN_PREFIX + "*"):
        try:
            owner = int((run / "owner.pid").read_text())
            if _alive(owner):
                continue
            pid_file = run / "pg" / "data" / "postmaster.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                if _alive(pid) and b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                    deadline = time.monotonic() + 10
                    while _alive(pid) and time.monotonic() < deadline:
                        time.sleep(0.05)
        except (OSError, ValueError, IndexError):
            if time.time() - run.stat().st_mtime < 3600:
                continue  # being set up right now by another run, or unreadable: leave it
        shutil.rmtree(run, ignore_errors=True)


# -- small helpers ---------------------------------------------------------------------------------


def _as(user: str | None, argv: list[str], what: str = "", check: bool = True) -> None:
    """Run a PostgreSQL tool, through runuser when the server runs as another user."""
    command = (["runuser", "-u", user, "--"] if user else []) + argv
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0 and check:
        who = f" as {user}" if user else ""
        output = (done.stderr + done.stdout).strip()
        raise PostgresUnavailable(f"{what or argv[0]}{who} failed (exit {done.returncode}): {output}")


def _temp_base() -> str:
    """Where run folders go: $SAMEN_TEST_PG_TMP, else RAM-backed /dev/shm when it has room (creating
    a database there takes milliseconds; on a disk, hundreds), else the temp folder."""
    configured = os.environ.get(TMP_ENV)
    if configured:
        return configured
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize >= 2 << 30 and os.access("/dev/shm", os.W_OK | os.X_OK):
            return "/dev/shm"
    except OSError:
        pass
    return tempfile.gettempdir()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
