"""WaddlePerf client: probes, AutoPerf, results and the ``waddleperf`` command."""

from __future__ import annotations

from waddleperf_common import __version__

__all__ = ["__version__"]
