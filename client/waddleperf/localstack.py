"""Start WaddlePerf processes on this machine (loopback) and stop them for sure.

Used by ``waddleperf demo`` (``make run``); the same way a person would start them by hand.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
SERVICES = ("http", "tcp_echo", "udp_echo", "iperf")


def free_port(host: str = LOOPBACK) -> int:
    """A port number free for both TCP and UDP on ``host`` right now (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as udp:
                    udp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free for both TCP and UDP on {host}")


def waddleperf_command() -> list[str]:
    """The argument list that runs this installation's ``waddleperf`` command."""
    script = Path(sys.executable).parent / "waddleperf"
    return [str(script)] if script.exists() else [sys.executable, "-m", "waddleperf"]


@dataclass
class LocalProcess:
    """A child process this module started, with its log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 6.0) -> int | None:
        """SIGTERM, then SIGKILL if it outlives ``timeout`` seconds; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the process's log, for error messages."""
        return self.log_path.read_text(errors="replace")[-chars:]


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

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """The server's ``/health`` document."""
        with urllib.request.urlopen(self.base_url + "/health", timeout=timeout) as resp:  # noqa: S310 (http URL built here)
            data: dict[str, Any] = json.loads(resp.read())
        return data


def start_server(
    log_path: Path,
    host: str = LOOPBACK,
    services: Sequence[str] = SERVICES,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 20.0,
) -> LocalServer:
    """Start ``waddleperf server`` on free ports of ``host``; return once ``/health`` answers."""
    ports = {name: free_port(host) if name in services else 0 for name in SERVICES}
    argv = [*waddleperf_command(), "server", "--bind", host]
    for name in SERVICES:
        argv += [f"--{name.replace('_', '-')}-port", str(ports[name])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_SERVER_")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*argv, *extra_args], stdout=log, stderr=log, env=env)
    server = LocalServer(proc, log_path, host, ports)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            server.health(timeout=1.0)
            return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not become ready:\n{server.log_tail()}")


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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WADDLEPERF_", "CELERY_", "DB_", "HONEYBADGER_"))
    }
    env["DB_NAME"] = str(db_path)
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
