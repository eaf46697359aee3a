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
from dataclasses import dataclass
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
class LocalServer:
    """A ``waddleperf server`` child process and its ports (0 = service disabled)."""

    proc: subprocess.Popen[bytes]
    host: str
    ports: dict[str, int]
    log_path: Path

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
    server = LocalServer(proc, host, ports, log_path)
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
    tail = log_path.read_text(errors="replace")[-1500:]
    raise RuntimeError(f"the server did not become ready:\n{tail}")
