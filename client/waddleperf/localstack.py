"""Start WaddlePerf processes on this machine (loopback) and stop them for sure.

Used by ``waddleperf demo`` (``make run``); the same way a person would start them by hand.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waddleperf_common import procs

LOOPBACK = "127.0.0.1"
SERVICES = ("http", "tcp_echo", "udp_echo", "iperf")
BIND_ATTEMPTS = 3  # start_server picks new ports when one was taken meanwhile


#: Where :func:`free_port` looks: below the kernel's ephemeral range, so no outgoing
#: connection of another process can take a port between the pick and the server's bind.
PICK_LOW = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _pick_range() -> range:
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(PICK_LOW, max(low, PICK_LOW + 1000))


def _free(family: socket.AddressFamily, host: str, port: int) -> int | None:
    """``port`` (0: the kernel's pick) if it binds for both TCP and UDP on ``host`` now."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, port))
            port = int(tcp.getsockname()[1])
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.bind((host, port))
    except OSError:
        return None
    return port


def free_port(host: str = LOOPBACK) -> int:
    """A port number free for both TCP and UDP on ``host`` right now.

    Picked at random below the ephemeral range: a port the kernel hands out for ``bind(0)`` is
    also what it hands out for outgoing connections, which other processes make all the time,
    so such a pick can be taken before the server binds it (seen with four test workers).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = _pick_range()
    for _ in range(200):
        port = _free(family, host, secrets.choice(candidates))
        if port is not None:
            return port
    for _ in range(50):  # that range all taken: the kernel's pick
        port = _free(family, host, 0)
        if port is not None:
            return port
    raise RuntimeError(f"no port free for both TCP and UDP on {host}")


def waddleperf_command() -> list[str]:
    """The argument list that runs this installation's ``waddleperf`` command."""
    script = Path(sys.executable).parent / "waddleperf"
    return [str(script)] if script.exists() else [sys.executable, "-m", "waddleperf"]


def child_env(
    env: Mapping[str, str] | None = None, drop: tuple[str, ...] = ("WADDLEPERF_",)
) -> dict[str, str]:
    """This process's environment without the variables named ``drop*``, with ``env`` over it.

    A child configured only by what its starter passes: a stray ``WADDLEPERF_SERVER_*`` or
    ``WADDLEPERF_UDP_KEY`` in the caller's shell must not change what a local server does.
    """
    cleaned = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    cleaned.update(env or {})
    return cleaned


@dataclass
class LocalProcess:
    """A child process this module started, with its log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 6.0, sig: int = signal.SIGTERM) -> int:
        """Send ``sig``, then SIGKILL if it outlives ``timeout`` seconds; returns the exit code."""
        return procs.stop(self.proc, timeout, sig=sig)

    def log(self) -> str:
        """Everything the process wrote (stdout and stderr) so far."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the process's log, for error messages."""
        return self.log()[-chars:]


# The server logs this once every enabled service is bound (iperf3 listening included); /health
# alone can answer earlier, while a later service is still starting.
READY_MARK = "waddleperf.server.main: ready "


@dataclass
class LocalServer(LocalProcess):
    """A ``waddleperf server`` child process and its ports (0 = service disabled)."""

    host: str = LOOPBACK
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the HTTP service."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.ports['http']}"

    @property
    def http_port(self) -> int:
        """Port of the HTTP service (0: disabled)."""
        return self.ports.get("http", 0)

    @property
    def tcp_echo_port(self) -> int:
        """Port of the TCP echo service (0: disabled)."""
        return self.ports.get("tcp_echo", 0)

    @property
    def udp_echo_port(self) -> int:
        """Port of the UDP echo service (0: disabled)."""
        return self.ports.get("udp_echo", 0)

    @property
    def iperf_port(self) -> int:
        """Port of the supervised iperf3 server (0: disabled)."""
        return self.ports.get("iperf", 0)

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        """The server's ``/health`` document."""
        with urllib.request.urlopen(self.base_url + "/health", timeout=timeout) as resp:  # noqa: S310 (http URL built here)
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def ready(self) -> bool:
        """Whether every enabled service is up: the server logged ``ready`` (at log level INFO
        or DEBUG) and, when it serves HTTP, ``/health`` answers."""
        if READY_MARK not in self.log():
            return False
        if not self.http_port:
            return True
        try:
            self.health(timeout=1.0)
        except (OSError, ValueError):
            return False
        return True

    def wait_ready(self, timeout: float) -> None:
        """Return once :meth:`ready`; else stop the process and raise RuntimeError with its log."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if self.ready():
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not become ready:\n{self.log_tail()}")


def server_argv(
    host: str,
    ports: Mapping[str, int],
    extra_args: Sequence[str] = (),
    command: Sequence[str] | None = None,
) -> list[str]:
    """``waddleperf server`` bound to ``host`` with the given service ports (missing or 0: off);
    ``command`` is another installation's ``waddleperf`` (default: this one's)."""
    argv = [*(command or waddleperf_command()), "server", "--bind", host]
    for name in SERVICES:
        argv += [f"--{name.replace('_', '-')}-port", str(ports.get(name, 0))]
    return [*argv, *extra_args]


def start_server(
    log_path: Path,
    host: str = LOOPBACK,
    services: Sequence[str] = SERVICES,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 20.0,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    cwd: Path | None = None,
) -> LocalServer:
    """Start ``waddleperf server`` on free ports of ``host`` for ``services`` (the others off).

    Its output goes to ``log_path``; its environment is this one without ``WADDLEPERF_*``
    variables, with ``env`` laid over it; ``command`` and ``cwd`` as in :func:`server_argv`
    and :class:`subprocess.Popen` (an installed wheel's command, run outside the checkout).
    Returns once the server is ready (every service bound, ``/health`` answering when HTTP is
    on); RuntimeError with its log if it is not within ``ready_timeout`` seconds.
    """
    for attempt in range(BIND_ATTEMPTS):
        ports = {name: free_port(host) if name in services else 0 for name in SERVICES}
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                server_argv(host, ports, extra_args, command),
                stdout=log,
                stderr=log,
                env=child_env(env),
                cwd=cwd,
            )
        server = LocalServer(proc, log_path, host, ports)
        try:
            server.wait_ready(ready_timeout)
        except RuntimeError:
            # Another process took a picked port before the server bound it: pick again.
            if attempt + 1 < BIND_ATTEMPTS and "Address already in use" in server.log_tail():
                continue
            raise
        return server
    raise AssertionError("unreachable")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (http URL built here)
            return int(resp.status) == 200
    except OSError:
        return False


def start_target(
    log_path: Path,
    framework: str,
    root: Path,
    db_path: Path,
    workers: int = 2,
    ready_timeout: float = 40.0,
) -> tuple[LocalProcess, str]:
    """Serve the ``flask`` or ``django`` target with gunicorn on a free loopback port.

    ``root`` is the checkout that holds ``targets/``; the target gets its own SQLite file and
    no APM, broker or WaddlePerf variables. Returns the process and the target's base URL.
    """
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    env = child_env({"DB_NAME": str(db_path)}, ("WADDLEPERF_", "CELERY_", "DB_", "HONEYBADGER_"))
    argv = [sys.executable, "-m", "targets.serve", framework, "--bind", f"{LOOPBACK}:{port}"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*argv, "--workers", str(workers)], stdout=log, stderr=log, env=env, cwd=root
        )
    target = LocalProcess(proc, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if _answers(url + "/api/warmup/"):
            return target, url
        time.sleep(0.2)
    target.stop()
    raise RuntimeError(f"the {framework} target did not become ready:\n{target.log_tail()}")
