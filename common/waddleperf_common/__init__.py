"""Pieces shared by the WaddlePerf client and server: wire formats and the config loader."""

from __future__ import annotations

__version__ = "0.2.0"
