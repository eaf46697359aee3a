"""Time buckets of the latency charts: one width and one set of edges for every series.

The width is the smallest "round" width (1 min … 1 week) that fits the window into at most
``max_buckets`` buckets; edges are multiples of the width since the Unix epoch (UTC), so two
reports of overlapping windows put their buckets in the same places.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: Candidate widths, seconds: 1, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 day, 1 week.
WIDTHS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
MAX_BUCKETS = 120


def bucket_width(first: datetime, last: datetime, max_buckets: int = MAX_BUCKETS) -> int:
    """The bucket width in seconds for the window ``first`` … ``last``."""
    if max_buckets < 1:
        raise ValueError("max_buckets must be at least 1")
    span = max(0.0, (last - first).total_seconds())
    lo, hi = first.timestamp(), last.timestamp()
    for width in WIDTHS_S:
        if int(hi // width) - int(lo // width) + 1 <= max_buckets:
            return width
    # longer than the largest width allows: widen in whole weeks
    weeks = int(span // (WIDTHS_S[-1] * max_buckets)) + 1
    return WIDTHS_S[-1] * weeks


def bucket_start(t: datetime, width_s: int) -> datetime:
    """Start of the bucket holding ``t``."""
    epoch = int(t.timestamp() // width_s) * width_s
    return datetime.fromtimestamp(epoch, UTC)


def edges(first: datetime, last: datetime, width_s: int) -> list[datetime]:
    """Start of every bucket from the one holding ``first`` to the one holding ``last``."""
    start = int(first.timestamp() // width_s) * width_s
    stop = int(last.timestamp() // width_s) * width_s
    return [datetime.fromtimestamp(t, UTC) for t in range(start, stop + 1, width_s)]


def bucket_sql(column: str, width_s: int) -> str:
    """SQL of the start (Unix seconds) of the bucket holding timestamp ``column`` (after
    1970), in integer microseconds: exact, and cheaper in DuckDB than ``floor(epoch(…))``."""
    return f"(epoch_us({column}) // {int(width_s) * 1_000_000}) * {int(width_s)}"


def index_sql(column: str, width_s: int, first_edge_s: int) -> str:
    """SQL of the position of ``column``'s bucket on an axis whose first edge is
    ``first_edge_s`` (a multiple of the width: the difference divides exactly)."""
    start = bucket_sql(column, width_s)
    return f"CAST(({start} - {int(first_edge_s)}) // {int(width_s)} AS INTEGER)"
