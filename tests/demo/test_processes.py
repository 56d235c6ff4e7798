"""The demo's process handling on small stand-in children: a child that dies is reported with its log's tail,
one that ignores SIGTERM is killed, and a failing setup step names itself."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from samen.demo.processes import Child, ChildFailed, Children, run_steps


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_that_dies_while_starting_is_reported_with_the_tail_of_its_log(tmp_path: Path) -> None:
    children = Children()
    dying = Child("index", python("print('cannot open the keys', flush=True); raise SystemExit(3)"),
                  tmp_path / "index.log", "http://127.0.0.1:9/never")
    with pytest.raises(ChildFailed) as failed:
        children.start([dying], timeout_s=30)
    assert failed.value.name == "index"
    assert "exit status 3" in str(failed.value) and "cannot open the keys" in str(failed.value)
    children.stop()


def test_a_child_that_dies_later_is_found_by_check(tmp_path: Path) -> None:
    children = Children()
    child = Child("gp-1", python("import time; time.sleep(0.3); print('bye', flush=True)"), tmp_path / "gp.log",
                  "http://127.0.0.1:9/never")
    child.start()
    children.children.append(child)
    time.sleep(1.0)
    with pytest.raises(ChildFailed, match="gp-1 stopped unexpectedly"):
        children.check()
    children.stop()


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    children = Children()
    stubborn = Child("stubborn", python("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                        "print('up', flush=True); time.sleep(60)"), tmp_path / "s.log", "")
    stubborn.start()
    children.children.append(stubborn)
    while "up" not in (tmp_path / "s.log").read_text():
        time.sleep(0.05)
    started = time.monotonic()
    children.stop(timeout_s=1.0)
    assert stubborn.exited() is not None and time.monotonic() - started < 10
    assert children.children == []


def test_a_failing_step_names_itself_and_stops_the_others(tmp_path: Path) -> None:
    log = tmp_path / "setup.log"
    done: list[str] = []
    with pytest.raises(RuntimeError, match="import gp-2 failed \\(exit status 1\\)") as failed:
        run_steps([("import gp-1", python("print('ok')")), ("import gp-2", python("print('bad line 7'); exit(1)")),
                   ("import pharmacy", python("import time; time.sleep(30)"))], log, parallel=1,
                  progress=lambda n, total, name: done.append(name))
    assert "bad line 7" in str(failed.value)
    assert done == ["import gp-1"]
