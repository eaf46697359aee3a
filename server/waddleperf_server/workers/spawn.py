"""Starting an HTTP worker process, two ways, with one handle for the supervisor.

- :func:`fork_worker`, at start-up, before any other service runs: the worker is a fork of
  the supervisor, which has already imported everything (no interpreter start, no imports:
  a fresh interpreter importing Flask costs ~0.8 s of CPU a worker). Nothing but the HTTP
  modules has run yet, so the child inherits no other service's sockets or greenlets; it
  closes the descriptors meant for the other workers and serves.
- :func:`exec_worker`, for a restart later, when the supervisor runs the echo services
  and iperf3 (a fork would inherit their sockets and greenlets): a fresh
  ``python -m waddleperf_server.workers.child`` given its descriptors and the configuration.

Either way the worker leads a session of its own (a terminal's Ctrl-C reaches only the
supervisor) and gets SIGKILL from the kernel should the supervisor die.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess as std_subprocess
import sys
from collections.abc import Iterable
from typing import Any

import gevent.os
from gevent import subprocess
from gevent.event import Event

from waddleperf_server.config import ServerConfig
from waddleperf_server.iperf.watch import die_with_parent_hook


class ForkedProcess:
    """A forked worker as the supervisor sees it: the subset of ``Popen`` it uses."""

    def __init__(self) -> None:
        self.pid = 0
        self.returncode: int | None = None
        self._done = Event()

    def exited(self, watcher: Any) -> None:
        """The child watcher's callback: record the exit (negative: killed by a signal)."""
        self.returncode = os.waitstatus_to_exitcode(watcher.rstatus)
        self._done.set()

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit (cooperatively); TimeoutExpired after ``timeout`` s."""
        if not self._done.wait(timeout):
            raise std_subprocess.TimeoutExpired(f"worker pid {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM."""
        os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        os.kill(self.pid, signal.SIGKILL)


def fork_worker(
    config: ServerConfig, args: dict[str, Any], keep: Iterable[int], close: Iterable[Any]
) -> ForkedProcess:
    """Fork a worker serving with ``config``; ``args`` are :func:`child.serve_worker`'s,
    ``close`` the sockets of the other workers (closed in the child only)."""
    proc = ForkedProcess()
    hook = die_with_parent_hook()
    pid = gevent.os.fork_and_watch(callback=proc.exited)
    if pid:
        proc.pid = pid
        return proc
    code = 1
    try:  # the child: never returns into the supervisor's code
        os.setsid()
        hook()
        kept = set(keep)
        for sock in close:
            if sock.fileno() not in kept:
                with contextlib.suppress(OSError):
                    sock.close()
        from waddleperf_server.workers.child import serve_worker

        code = serve_worker(config, **args)
    finally:
        os._exit(code)


def exec_worker(config_json: str, args: dict[str, Any]) -> Any:
    """Start a fresh interpreter as a worker (``Popen``); its descriptors stay open in it."""
    argv = [sys.executable, "-m", "waddleperf_server.workers.child"]
    for key, value in args.items():
        text = repr(value) if isinstance(value, float) else str(value)  # repr: every digit
        argv += [f"--{key.replace('_', '-')}", text]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        pass_fds=(args["listen_fd"], args["channel_fd"]),
        start_new_session=True,
        preexec_fn=die_with_parent_hook(),
    )
    proc.stdin.write(config_json.encode())
    proc.stdin.close()
    return proc
