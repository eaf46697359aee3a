"""Pure statistics over profiling samples: avg/max/min per source and field, record metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Fields summarised into record metrics, per source.
SUMMARY_FIELDS = ("cpu_pct", "cpu_core_ratio", "rss_mb", "uss_mb", "threads_count", "fds_count")


def by_source(samples: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Samples grouped by their ``source``, in time order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        out.setdefault(str(sample.get("source", "?")), []).append(sample)
    for group in out.values():
        group.sort(key=lambda s: float(s.get("time", 0.0)))
    return out


def series(samples: Sequence[Mapping[str, Any]], field: str) -> list[float]:
    """The numeric values of ``field`` (missing and null values skipped)."""
    return [float(s[field]) for s in samples if isinstance(s.get(field), int | float)]


def avg_max_min(values: Sequence[float]) -> dict[str, float] | None:
    """Average, maximum and minimum of ``values`` (None when empty), rounded to 3 places."""
    if not values:
        return None
    return {
        "avg": round(sum(values) / len(values), 3),
        "max": round(max(values), 3),
        "min": round(min(values), 3),
    }


def slug(name: str) -> str:
    """``name`` as a metric-name part: lowercase letters, digits, single underscores."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split()
    cleaned = "_".join(words)
    return cleaned if cleaned and cleaned[0].isalpha() else f"s_{cleaned}".rstrip("_")


def profile_metrics(samples: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Record metrics such as ``target_cpu_pct_avg`` → ``target_cpu_avg_pct`` (unit last)."""
    metrics: dict[str, float] = {}
    for source, group in by_source(samples).items():
        for field in (*SUMMARY_FIELDS, "mem_used_pct"):
            stats = avg_max_min(series(group, field))
            if stats is None:
                continue
            base, _, unit = field.rpartition("_")
            for stat, value in stats.items():
                metrics[f"{slug(source)}_{base}_{stat}_{unit}"] = value
    return metrics
