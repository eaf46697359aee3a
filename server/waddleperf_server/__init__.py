"""WaddlePerf server: HTTP, LibreSpeed, responsiveness, TCP/UDP echo, supervised iperf3, /stats."""

from __future__ import annotations

from waddleperf_common import __version__

__all__ = ["__version__"]
