"""Child processes of the demo: started with their output in log files, waited for, watched and stopped.

Children run in their own session, so a Ctrl-C at the terminal reaches only the demo, which then stops
them in order (terminate, wait, kill). On Linux each child also gets SIGTERM when the demo itself dies
(``PR_SET_PDEATHSIG``), so even a killed demo leaves no orphan behind.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1


def samen_command() -> list[str]:
    """How to run ``samen`` with this interpreter: the installed entry point next to it, else the module."""
    script = Path(sys.executable).with_name("samen")
    if script.exists():
        return [str(script)]
    found = shutil.which("samen")
    return [found] if found else [sys.executable, "-c", "import sys; from samen.cli import main; sys.exit(main())"]


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildFailed(RuntimeError):
    """A child process that stopped (or never became ready): its name, exit status and the tail of its log."""

    def __init__(self, name: str, reason: str, log: Path) -> None:
        self.name, self.reason, self.log = name, reason, log
        super().__init__(f"{name} {reason}; last lines of {log}:\n{tail(log)}")


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty)"


@dataclass
class Child:
    """One long-running process of the network."""

    name: str
    argv: list[str]
    log: Path
    ready_url: str  # answers 200 once the process serves
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        """The exit status when the process has stopped, else None."""
        return None if self.process is None else self.process.poll()

    def ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


class Children:
    """The running children, in the order they were started."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.paused: dict[str, Child] = {}

    def start(self, children: Sequence[Child], timeout_s: float = 90.0,
              progress: Callable[[str], None] = lambda _: None) -> None:
        """Start ``children`` and wait until each answers; raises ChildFailed for one that stops or never answers."""
        for child in children:
            child.start()
            self.children.append(child)
        waiting = list(children)
        deadline = time.monotonic() + timeout_s
        while waiting:
            for child in list(waiting):
                status = child.exited()
                if status is not None:
                    raise ChildFailed(child.name, f"stopped while starting (exit status {status})", child.log)
                if child.ready():
                    waiting.remove(child)
                    progress(f"{child.name} ready ({len(children) - len(waiting)}/{len(children)})")
            if waiting and time.monotonic() > deadline:
                raise ChildFailed(waiting[0].name, f"did not answer {waiting[0].ready_url} within {timeout_s:.0f} s",
                                  waiting[0].log)
            if waiting:
                time.sleep(0.25)

    def check(self) -> None:
        """Raise ChildFailed for the first child that stopped."""
        for child in self.children:
            status = child.exited()
            if status is not None:
                raise ChildFailed(child.name, f"stopped unexpectedly (exit status {status})", child.log)

    def find(self, name: str) -> Child:
        return next(child for child in self.children if child.name == name)

    def pause(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop one child (a node that goes down); ``resume`` starts it again. ``check`` ignores it meanwhile."""
        child = self.find(name)
        self.children.remove(child)
        stop_child(child, signal.SIGTERM)
        assert child.process is not None
        try:
            child.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            stop_child(child, signal.SIGKILL)
            child.process.wait()
        self.paused[name] = child

    def resume(self, name: str) -> None:
        self.start([self.paused.pop(name)])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate every child (newest first), wait up to ``timeout_s``, then kill what is left."""
        for child in reversed(self.children):
            stop_child(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop_child(child, signal.SIGKILL)
                child.process.wait()
        self.children.clear()


def stop_child(child: Child, sig: signal.Signals) -> None:
    """Send ``sig`` to the child's process group (uvicorn workers included) when it still runs."""
    if child.process is None or child.process.poll() is not None:
        return
    try:
        os.killpg(child.process.pid, sig)
    except ProcessLookupError:
        pass


def run_steps(commands: Sequence[tuple[str, list[str]]], log: Path, parallel: int = 2,
              progress: Callable[[int, int, str], None] = lambda done, total, name: None) -> None:
    """Run short commands (``(name, argv)``), ``parallel`` at a time, output appended to ``log``.

    Raises RuntimeError naming the first that fails, with the tail of the log; the others are stopped.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    pending = list(commands)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    done = 0
    with log.open("ab") as output:
        try:
            while pending or running:
                while pending and len(running) < parallel:
                    name, argv = pending.pop(0)
                    output.write(f"\n$ {' '.join(argv)}\n".encode())
                    output.flush()
                    running.append((name, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output,
                                                           stderr=subprocess.STDOUT, start_new_session=True,
                                                           preexec_fn=_die_with_parent)))
                for name, process in list(running):
                    status = process.poll()
                    if status is None:
                        continue
                    running.remove((name, process))
                    if status != 0:
                        raise RuntimeError(f"{name} failed (exit status {status}); last lines of {log}:\n{tail(log)}")
                    done += 1
                    progress(done, len(commands), name)
                time.sleep(0.05)
        finally:
            for _, process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
