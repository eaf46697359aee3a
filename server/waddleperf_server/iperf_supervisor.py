"""iperf3 supervisor (minimal placeholder; full implementation follows)."""

from __future__ import annotations

from typing import Any

from waddleperf_server.config import IperfConfig


class IperfSupervisor:
    """iperf3 supervisor."""

    name = "iperf"

    def __init__(self, cfg: IperfConfig, bind: str) -> None:
        self.cfg = cfg
        self.bind = bind
        self._state = "stopped"

    def start(self) -> None:
        """Begin serving (placeholder: marks the service running)."""
        self._state = "running"

    def stop(self, timeout: float) -> None:
        """Stop serving within ``timeout`` seconds."""
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        """JSON-ready state of the service."""
        return {"state": self._state, "port": self.cfg.port}
