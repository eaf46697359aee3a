"""The running server as the HTTP handlers may see it: version, uptime, each service's state.

Built and filled by the wiring (main.py); read by ``/health``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from waddleperf_server import __version__
from waddleperf_server.config import ServerConfig
from waddleperf_server.service import Service


@dataclass
class Runtime:
    """What the HTTP handlers may read about the running server (for /health and /stats)."""

    config: ServerConfig
    services: list[Service] = field(default_factory=list)
    started_monotonic: float = field(default_factory=time.monotonic)
    version: str = __version__
    #: The root of the server's process tree (/stats): the supervisor when this is a worker.
    server_pid: int = field(default_factory=os.getpid)
    #: In an HTTP worker: every service's state as the supervisor sees it (None: this process).
    states_provider: Callable[[], dict[str, dict[str, Any]]] | None = None

    def uptime_s(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self.started_monotonic

    def service_states(self) -> dict[str, dict[str, Any]]:
        """Each service's status keyed by name; disabled services appear as such."""
        if self.states_provider is not None:
            return self.states_provider()
        states: dict[str, dict[str, Any]] = {
            name: {"state": "disabled", "port": 0}
            for name in ("http", "tcp_echo", "udp_echo", "iperf")
        }
        for svc in self.services:
            states[svc.name] = svc.status()
        return states
