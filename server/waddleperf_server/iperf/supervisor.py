"""Supervise Debian's ``iperf3 -s``: start it, restart it when it dies, cap test duration.

The child runs in its own session (a terminal's Ctrl-C reaches only the server, which then
stops the child in order) with a parent-death signal, so it never outlives the server, even
one killed with SIGKILL. Restarts back off exponentially up to ``BACKOFF_CAP_S`` and the
backoff resets once a child has run for ``STABLE_S``. When the binary lacks
``--server-max-duration`` the supervisor enforces the limit itself by watching the child's
established connections and restarting the child when a test overruns.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import socket
import time
from collections import deque
from typing import Any

import gevent
from gevent import subprocess

from waddleperf_common import procs
from waddleperf_server import logs
from waddleperf_server.config import IperfConfig
from waddleperf_server.iperf.watch import (
    WILDCARDS,
    ConnectionAges,
    build_argv,
    client_connections,
    die_with_parent_hook,
    is_listening,
    supports_max_duration,
)
from waddleperf_server.net.sockets import describe

BACKOFF_CAP_S = 30.0
STABLE_S = 30.0
WATCH_INTERVAL_S = 0.5
GRACE_S = 2.0  # beyond server_max_duration_s before the supervisor acts (its own timer)
NATIVE_GRACE_S = 10.0  # backstop only: iperf3 enforces the limit itself
START_WAIT_S = 3.0
TERM_WAIT_S = 1.0
MAX_LINE = 4096


class IperfSupervisor:
    """The iperf3 service: one supervised ``iperf3 -s`` child."""

    name = "iperf"

    def __init__(self, cfg: IperfConfig, bind: str) -> None:
        self.cfg = cfg
        self.bind = bind
        self._log = logs.get("iperf")
        self._proc: Any = None
        self._greenlets: list[Any] = []
        self._ages = ConnectionAges()
        self._stopping = False
        self._native = False
        self._killed_on_purpose = False
        self._state = "stopped"
        self.restarts = 0
        self.max_duration_kills = 0
        self.last_exit: int | None = None
        self._tail: deque[str] = deque(maxlen=20)
        self._argv: list[str] = []

    # -- Service protocol -------------------------------------------------------------------

    def start(self) -> None:
        """Start iperf3 and wait until it listens; OSError if the port or binary is unusable."""
        binary = shutil.which(self.cfg.binary)
        if binary is None:
            raise OSError(errno.ENOENT, f"iperf3 binary {self.cfg.binary!r} not found on PATH")
        _check_port_free(self.bind, self.cfg.port)
        help_run = subprocess.run([binary, "--help"], capture_output=True, timeout=5, check=False)
        self._native = supports_max_duration(help_run.stdout.decode(errors="replace"))
        self._argv = build_argv(
            binary,
            self.cfg.port,
            self.bind,
            self.cfg.idle_timeout_s,
            self.cfg.server_max_duration_s if self._native else None,
        )
        self._stopping = False
        self._spawn()
        if not self._wait_listening():
            self._terminate(TERM_WAIT_S)
            detail = self._tail[-1] if self._tail else f"exit code {self.last_exit}"
            raise OSError(errno.EADDRINUSE, f"iperf3 did not start listening: {detail}")
        self._greenlets = [gevent.spawn(self._supervise), gevent.spawn(self._watch)]
        self._log.info(
            "iperf3 pid=%d port=%d max_duration_enforcement=%s argv=%s",
            self._proc.pid,
            self.cfg.port,
            self.enforcement,
            " ".join(self._argv),
        )

    def stop(self, timeout: float) -> None:
        """Stop supervising and end the child: SIGTERM, then SIGKILL after a short wait."""
        self._stopping = True
        gevent.killall(self._greenlets, timeout=min(0.5, timeout / 4))
        self._greenlets = []
        self._terminate(min(TERM_WAIT_S, timeout / 2))
        self._state = "stopped"
        self._log.info("iperf3 stopped last_exit=%s restarts=%d", self.last_exit, self.restarts)

    def status(self) -> dict[str, Any]:
        """State (running/restarting/failed/stopped), child pid, restarts and last exit code."""
        proc = self._proc
        return {
            "state": self._state,
            "port": self.cfg.port,
            "pid": proc.pid if proc is not None and proc.poll() is None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "max_duration_enforcement": self.enforcement,
            "server_max_duration_s": self.cfg.server_max_duration_s,
            "max_duration_kills": self.max_duration_kills,
        }

    @property
    def enforcement(self) -> str:
        """Who ends overlong tests: ``"native"`` (iperf3 itself) or ``"supervisor"``."""
        return "native" if self._native else "supervisor"

    # -- child life cycle -------------------------------------------------------------------

    def _spawn(self) -> None:
        self._ages.clear()
        self._killed_on_purpose = False
        self._proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,
            preexec_fn=die_with_parent_hook(),
        )
        self._state = "running"
        gevent.spawn(self._read_output, self._proc)

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.last_exit = self._proc.returncode
                gevent.sleep(0.05)  # let the reader log iperf3's own complaint
                return False
            if is_listening(self._proc.pid, self.cfg.port):
                return True
            gevent.sleep(0.05)
        return False

    def _supervise(self) -> None:
        backoff = self.cfg.restart_backoff_s
        while not self._stopping:
            started = time.monotonic()
            code = self._proc.wait()
            if self._stopping:
                return
            self.last_exit = code
            ran = time.monotonic() - started
            if ran >= STABLE_S:
                backoff = self.cfg.restart_backoff_s
            delay = 0.0 if self._killed_on_purpose else backoff
            self.restarts += 1
            # At the backoff cap the child keeps dying young: say so rather than "restarting".
            self._state = "failed" if delay >= BACKOFF_CAP_S else "restarting"
            self._log.warning(
                "iperf3 pid=%d exited code=%s after %.1fs; restart #%d in %.1fs",
                self._proc.pid,
                code,
                ran,
                self.restarts,
                delay,
            )
            gevent.sleep(delay)
            if not self._killed_on_purpose:
                backoff = min(backoff * 2, BACKOFF_CAP_S)
            self._respawn()

    def _respawn(self) -> None:
        while not self._stopping:
            try:
                self._spawn()
                self._log.info("iperf3 restarted pid=%d", self._proc.pid)
                return
            except OSError as exc:
                self._state = "failed"
                self._log.error("cannot start iperf3: %s; retrying in %.0fs", exc, BACKOFF_CAP_S)
                gevent.sleep(BACKOFF_CAP_S)

    def _watch(self) -> None:
        limit = self.cfg.server_max_duration_s + (NATIVE_GRACE_S if self._native else GRACE_S)
        while not self._stopping:
            gevent.sleep(WATCH_INTERVAL_S)
            proc = self._proc
            if proc is None or proc.poll() is not None:
                continue
            now = time.monotonic()
            self._ages.update(now, client_connections(proc.pid, self.cfg.port))
            oldest = self._ages.oldest(now)
            if oldest is None or oldest[1] <= limit:
                continue
            peer, age = oldest
            self.max_duration_kills += 1
            self._killed_on_purpose = True
            self._log.warning(
                "iperf3 test from %s ran %.1fs > server_max_duration_s=%d: killing pid=%d",
                describe(peer),
                age,
                self.cfg.server_max_duration_s,
                proc.pid,
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            self._ages.clear()

    def _read_output(self, proc: Any) -> None:
        # readline(MAX_LINE) bounds memory even if iperf3 prints an endless line.
        for raw in iter(lambda: proc.stdout.readline(MAX_LINE), b""):
            line = raw.decode(errors="replace").rstrip()
            if not line:
                continue
            self._tail.append(line)
            if "error" in line.lower():
                self._log.warning("iperf3: %s", line)
            else:
                self._log.debug("iperf3: %s", line)
        proc.stdout.close()

    def _terminate(self, wait_s: float) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.last_exit = procs.stop(proc, wait_s, reap_s=TERM_WAIT_S)


def _check_port_free(bind: str, port: int) -> None:
    """Raise OSError (EADDRINUSE) if ``bind``:``port`` cannot be bound for TCP right now."""
    # iperf3 with no -B listens on [::] dual stack, so a wildcard bind is checked the same way.
    host = "::" if bind in WILDCARDS and socket.has_ipv6 else bind
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Like iperf3 itself: TIME_WAIT leftovers must not count as "taken", listeners do.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host == "::":
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL and host != bind:
                return  # no IPv6 on this host: iperf3 will fall back to IPv4 as well
            raise OSError(
                exc.errno, f"port {port} on {bind} is not available: {exc.strerror}"
            ) from None
