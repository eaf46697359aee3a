"""Small helpers for tests: free loopback ports and waiting for a service."""

from __future__ import annotations

import time
from collections.abc import Callable

from waddleperf.localstack import free_port

__all__ = ["free_port", "wait_until"]


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it returns True or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False
