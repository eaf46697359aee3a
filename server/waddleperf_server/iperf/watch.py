"""Helpers of the iperf3 supervisor that need no child process: test ages, argv, the child hook.

Debian's iperf3 3.12 has no ``--server-max-duration``, so the supervisor measures how long
each client connection of the child has been established and ends tests that overrun.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Hashable, Iterable
from typing import Any

import psutil

PR_SET_PDEATHSIG = 1
WILDCARDS = ("0.0.0.0", "::")


class ConnectionAges:
    """Remember when each connection was first seen; report the ones older than a limit. Pure.

    Times are seconds on the caller's monotonic clock. Connections that vanish are forgotten,
    so memory is bounded by the number of connections open at once.
    """

    def __init__(self) -> None:
        self._first_seen: dict[Hashable, float] = {}

    def update(self, now: float, open_now: Iterable[Hashable]) -> None:
        """Record the connections open at ``now``; forget those no longer open."""
        current = set(open_now)
        self._first_seen = {k: t for k, t in self._first_seen.items() if k in current}
        for key in current:
            self._first_seen.setdefault(key, now)

    def oldest(self, now: float) -> tuple[Hashable, float] | None:
        """The longest-open connection and its age in seconds, or None when none is open."""
        if not self._first_seen:
            return None
        key = min(self._first_seen, key=self._first_seen.__getitem__)
        return key, now - self._first_seen[key]

    def clear(self) -> None:
        """Forget everything (the child was replaced)."""
        self._first_seen.clear()


def build_argv(
    binary: str, port: int, bind: str, idle_timeout_s: int, max_duration_s: int | None
) -> list[str]:
    """The iperf3 server command line; ``max_duration_s`` only when the binary supports it."""
    argv = [binary, "-s", "-p", str(port), "--idle-timeout", str(idle_timeout_s)]
    if max_duration_s is not None:
        argv += ["--server-max-duration", str(max_duration_s)]
    if bind not in WILDCARDS:
        argv += ["-B", bind]
    return argv


def supports_max_duration(help_text: str) -> bool:
    """Whether ``iperf3 --help`` output advertises ``--server-max-duration`` (iperf3 ≥ 3.17)."""
    return "--server-max-duration" in help_text


def client_connections(pid: int, port: int) -> list[tuple[str, int]]:
    """Remote (address, port) of every established TCP connection of ``pid`` on local ``port``."""
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []
    out: list[tuple[str, int]] = []
    for conn in conns:
        if conn.status != psutil.CONN_ESTABLISHED or not conn.raddr:
            continue
        if conn.laddr and conn.laddr.port == port:
            out.append((conn.raddr.ip, conn.raddr.port))
    return out


def is_listening(pid: int, port: int) -> bool:
    """Whether ``pid`` has a TCP socket listening on ``port``."""
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns)


def die_with_parent_hook() -> Any:
    """A ``preexec_fn`` that makes the child receive SIGKILL when this process dies.

    Needed because a SIGKILLed server runs no clean-up code; the kernel's parent-death signal
    is the only thing that can still stop iperf3 then.
    """
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died between fork and prctl; then nobody would signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
