"""Stopping child processes: a polite signal, a grace period, then SIGKILL, and always a reap.

One rule for every child the client, the server and the tests start (Locust, iperf3, the
server, the applications under test), so none outlives its owner and none is left a zombie.
Works with :class:`subprocess.Popen` and with gevent's cooperative ``Popen`` alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Protocol

#: Seconds to wait for the kernel to reap a child after SIGKILL (it cannot refuse to die).
REAP_S = 5.0
#: The least wait per child when several share one grace period, in seconds.
MIN_WAIT_S = 0.1


class Child(Protocol):
    """What :func:`stop` needs of a child process (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...


def _signal(proc: Child, sig: int) -> None:
    # the child may end between poll() and the signal: that is what we wanted anyway
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)


def _kill_group(proc: Child) -> None:
    # a group with no member left, or one we may not signal, has nothing of ours to stop
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_all(
    procs: Sequence[Child],
    grace_s: float,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
    reap_s: float = REAP_S,
) -> list[int]:
    """Stop every process of ``procs``; their exit codes (negative: the signal that ended it).

    Each one still running gets ``sig`` at once; together they get ``grace_s`` seconds to
    end (each at least ``MIN_WAIT_S``); one still running then is SIGKILLed and reaped within
    ``reap_s`` seconds (``subprocess.TimeoutExpired`` beyond that). ``group``: each child
    leads its own process group (``start_new_session=True``) and, once it has ended or its
    grace is over, whatever is left in that group is SIGKILLed too, so nothing it started
    outlives it. A process that had already ended is only reaped.
    """
    for proc in procs:
        if proc.poll() is None:
            _signal(proc, sig)
    deadline = time.monotonic() + grace_s
    codes = []
    for proc in procs:
        try:
            code = proc.wait(timeout=max(MIN_WAIT_S, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            if group:
                _kill_group(proc)
            code = proc.wait(timeout=reap_s)
        else:
            if group:
                _kill_group(proc)
        codes.append(code)
    return codes


def stop(
    proc: Child,
    grace_s: float,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
    reap_s: float = REAP_S,
) -> int:
    """Stop one process as :func:`stop_all` does; its exit code."""
    return stop_all([proc], grace_s, sig=sig, group=group, reap_s=reap_s)[0]
