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
