"""A load run as a person reads it: the progress line and the record's headline figures (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from waddleperf.load.hdr import PERCENTILE_METRICS
from waddleperf.results.model import Result

#: The record's figures shown after a run, in this order (the record keeps them all).
SHOWN = (
    "requests_count",
    "throughput_rps",
    "error_rate_pct",
    "latency_avg_ms",
    *PERCENTILE_METRICS,
    "latency_max_ms",
    "target_cpu_avg_pct",
    "target_rss_max_mb",
    "generator_cpu_avg_pct",
)


def progress_line(snap: Mapping[str, Any]) -> str:
    """One progress snapshot of the master (elapsed s, users, requests, failures, req/s)."""
    return (
        f"  t={snap.get('elapsed_s', 0):>6}s users={snap.get('users', 0):>4} "
        f"req={snap.get('requests', 0):>8} fail={snap.get('failures', 0):>6} "
        f"rps={snap.get('current_rps', 0):>8} workers={snap.get('workers', 0)}"
    )


def record_lines(record: Result, directory: Path) -> list[str]:
    """``kind target: status — error``, the figures of :data:`SHOWN` it has, where its files are."""
    head = f"{record.kind} {record.target}: {record.status.value}"
    lines = [head + (f" — {record.error}" if record.error else "")]
    lines += [f"  {key:<24} {record.metrics[key]}" for key in SHOWN if key in record.metrics]
    lines.append(f"  files in {directory}")
    return lines
