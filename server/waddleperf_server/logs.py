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


# C0 controls, DEL and C1 controls become \xNN: a client's %0A must not start a log line.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """``text`` with control characters escaped as ``\\xNN``, for values a client chose
    (request paths) in log lines: no forged lines, no terminal escape sequences."""
    return text if text.isprintable() else text.translate(_ESCAPES)


def get(component: str) -> logging.Logger:
    """The logger of one server component (``waddleperf.server.<component>``)."""
    return logging.getLogger(f"waddleperf.server.{component}")
