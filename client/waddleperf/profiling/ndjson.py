"""Profiling samples as k6-compatible NDJSON: one ``Metric`` line per metric, then ``Point``s.

k6's JSON output format (``k6 run --out json``): every metric is declared once with
``{"type": "Metric", "metric": name, "data": {"name", "type", "contains", ...}}`` and each
value is ``{"type": "Point", "metric": name, "data": {"time", "value", "tags"}}``. Tags carry
``target`` (the sampled source), ``method`` (how it was sampled) and ``run``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Sample keys that are labels, not values.
LABELS = frozenset({"source", "time", "method"})
#: Cumulative counters are k6 "counter"s; everything else is a "gauge".
COUNTERS = frozenset(
    {"io_read_mb", "io_write_mb", "ctx_switches_count", "net_sent_mb", "net_recv_mb"}
)


def _time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def lines(
    samples: Iterable[Mapping[str, Any]], run: str, tags: Mapping[str, str] | None = None
) -> Iterator[str]:
    """NDJSON lines for ``samples`` (each declared metric before its first point)."""
    declared: set[str] = set()
    for sample in samples:
        point_tags = {
            "target": str(sample.get("source", "")),
            "method": str(sample.get("method", "psutil")),
            "run": run,
            **(tags or {}),
        }
        stamp = _time(float(sample.get("time", 0.0)))
        for key, value in sample.items():
            if key in LABELS or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if key not in declared:
                declared.add(key)
                kind = "counter" if key in COUNTERS else "gauge"
                data: dict[str, Any] = {
                    "name": key,
                    "type": kind,
                    "contains": "default",
                    "thresholds": [],
                    "submetrics": None,
                }
                yield json.dumps({"type": "Metric", "data": data, "metric": key})
            point = {"time": stamp, "value": value, "tags": point_tags}
            yield json.dumps({"type": "Point", "data": point, "metric": key})


def write(
    path: Path,
    samples: Iterable[Mapping[str, Any]],
    run: str,
    tags: Mapping[str, str] | None = None,
) -> int:
    """Write the NDJSON file; returns how many lines were written."""
    count = 0
    with path.open("w") as out:
        for line in lines(samples, run, tags):
            out.write(line + "\n")
            count += 1
    return count
