"""Logging: one line per event on stderr, ``time level component: message key=value …``."""

from __future__ import annotations

import logging
import sys


def setup(level: str = "INFO") -> None:
    """Send every ``waddleperf`` logger's records to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger("waddleperf")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def get(component: str) -> logging.Logger:
    """The logger of one server component (``waddleperf.server.<component>``)."""
    return logging.getLogger(f"waddleperf.server.{component}")
