"""The shape every server service shares: start, stop, report its state."""

from __future__ import annotations

from typing import Any, Protocol


class Service(Protocol):
    """A long-running part of the server (HTTP, TCP echo, UDP echo, iperf3 supervisor)."""

    name: str

    def start(self) -> None:
        """Bind and begin serving; raise OSError when the port cannot be had."""

    def stop(self, timeout: float) -> None:
        """Stop serving and release resources within ``timeout`` seconds."""

    def status(self) -> dict[str, Any]:
        """JSON-ready state: at least ``{"state": "running"|"stopped"|"failed"|..., "port": N}``."""
