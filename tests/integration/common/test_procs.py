"""Terminate-then-kill on real child processes: the polite end, the forced one, the group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.net import wait_until
from tests.support.procs import kill_tree
from waddleperf_common.procs import stop, stop_all

#: A child that ends on SIGTERM (the default action) once it has said it is up.
POLITE = "import sys, time\nprint('up', flush=True)\ntime.sleep(120)\n"
#: A child that ignores SIGTERM: only SIGKILL ends it.
STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('up', flush=True)\ntime.sleep(120)\n"
)
#: A group leader that exits on SIGTERM and leaves a grandchild behind in its group, its pid
#: in the file named by argv[1].
LEAVES_ONE = (
    "import signal, subprocess, sys, time\n"
    "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "open(sys.argv[1], 'w').write(str(kid.pid))\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
    "print('up', flush=True)\ntime.sleep(120)\n"
)


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        kill_tree(proc)


def _start(
    started: list[subprocess.Popen[bytes]], code: str, *args: str, session: bool = False
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, start_new_session=session
    )
    started.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    return proc


def test_polite_child_ends_on_sigterm(spawn: list[subprocess.Popen[bytes]]) -> None:
    proc = _start(spawn, POLITE)
    began = time.monotonic()
    assert stop(proc, 10) == -signal.SIGTERM
    assert time.monotonic() - began < 5  # it did not wait out the grace
    assert proc.poll() == -signal.SIGTERM


def test_stubborn_child_is_killed_after_its_grace(spawn: list[subprocess.Popen[bytes]]) -> None:
    proc = _start(spawn, STUBBORN)
    began = time.monotonic()
    assert stop(proc, 0.5) == -signal.SIGKILL
    assert time.monotonic() - began >= 0.5


def test_another_signal_first(spawn: list[subprocess.Popen[bytes]]) -> None:
    proc = _start(spawn, STUBBORN)
    assert stop(proc, 10, sig=signal.SIGINT) == -signal.SIGINT


def test_ended_child_is_only_reaped(spawn: list[subprocess.Popen[bytes]]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
    spawn.append(proc)
    assert wait_until(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, 30)
    assert stop(proc, 10) == 7
    assert stop(proc, 10) == 7  # twice is harmless


def test_several_share_one_grace(spawn: list[subprocess.Popen[bytes]]) -> None:
    procs = [_start(spawn, STUBBORN), _start(spawn, POLITE), _start(spawn, STUBBORN)]
    began = time.monotonic()
    assert stop_all(procs, 1.0) == [-signal.SIGKILL, -signal.SIGTERM, -signal.SIGKILL]
    # one grace for all, not one each (3 s); generous bound for a busy machine
    assert time.monotonic() - began < 2.9


def test_group_leftovers_are_killed(spawn: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    pid_file = tmp_path / "kid.pid"
    proc = _start(spawn, LEAVES_ONE, str(pid_file), session=True)
    kid = psutil.Process(int(pid_file.read_text()))
    assert os.getpgid(kid.pid) == proc.pid
    assert stop(proc, 10, group=True) == 3  # the leader ended politely…
    assert wait_until(lambda: not kid.is_running() or kid.status() == psutil.STATUS_ZOMBIE, 10)


def test_without_group_leftovers_stay(spawn: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    pid_file = tmp_path / "kid.pid"
    proc = _start(spawn, LEAVES_ONE, str(pid_file), session=True)
    kid = psutil.Process(int(pid_file.read_text()))
    try:
        assert stop(proc, 10) == 3
        time.sleep(0.2)
        assert kid.is_running() and kid.status() != psutil.STATUS_ZOMBIE
    finally:
        os.killpg(proc.pid, signal.SIGKILL)


def test_kill_tree_takes_the_workers_too(spawn: list[subprocess.Popen[bytes]]) -> None:
    code = (
        "import subprocess, sys, time\n"
        "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])"
        " for _ in range(2)]\n"
        "print('up', flush=True)\ntime.sleep(120)\n"
    )
    proc = _start(spawn, code)
    assert wait_until(lambda: len(psutil.Process(proc.pid).children()) == 2, 30)
    kids = psutil.Process(proc.pid).children()
    assert kill_tree(proc) == -signal.SIGKILL
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive and len(gone) == 2
