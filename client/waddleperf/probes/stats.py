"""Statistics over probe samples: pure functions, no I/O, no clocks.

Conventions (documented in docs/probes.md):
- mdev is iputils ping's: sqrt(mean(x²) − mean(x)²), the population standard deviation.
- Percentiles are nearest-rank: the smallest sample with at least p % of samples ≤ it
  (rank ⌈p/100 · n⌉), so every reported percentile is a value that was actually observed.
- Jitter is RFC 3550 §6.4.1: J += (|D| − J) / 16 over consecutive transit differences D.
- Reordered: a packet that arrives with a sequence number lower than the highest seen so far.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from waddleperf.results.model import MetricValue

#: Default figures of a series: what ``series_metrics`` reports for each prefix.
SERIES_FIGURES: tuple[str, ...] = ("min", "avg", "max", "mdev", "p50", "p95", "p99")


@dataclass(frozen=True, slots=True)
class Summary:
    """min/avg/max/mdev of a series, in the series' own unit."""

    min: float
    avg: float
    max: float
    mdev: float


def summarize(values: Sequence[float]) -> Summary | None:
    """min, mean, max and mdev (iputils) of ``values``; None for an empty series."""
    if not values:
        return None
    n = len(values)
    mean = math.fsum(values) / n
    mean_sq = math.fsum(v * v for v in values) / n
    # Rounding can push mean(x²) − mean(x)² a hair below zero for constant series.
    mdev = math.sqrt(max(mean_sq - mean * mean, 0.0))
    return Summary(min=min(values), avg=mean, max=max(values), mdev=mdev)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile ``p`` (0 < p ≤ 100) of ``values``; None when empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def rfc3550_jitter(transits: Sequence[float]) -> float | None:
    """RFC 3550 interarrival jitter of consecutive transit times (same unit in and out).

    D(i−1, i) = transit_i − transit_(i−1); J += (|D| − J) / 16, starting from J = 0.
    None with fewer than two transits (no difference to take).
    """
    if len(transits) < 2:
        return None
    jitter = 0.0
    for prev, cur in itertools.pairwise(transits):
        jitter += (abs(cur - prev) - jitter) / 16
    return jitter


@dataclass(frozen=True, slots=True)
class SequenceStats:
    """What sequence numbers tell: sent, distinct received, lost, duplicates, reordered."""

    sent: int
    received: int
    lost: int
    duplicates: int
    reordered: int

    @property
    def loss_pct(self) -> float | None:
        """Share of sent packets never answered, in percent; None when nothing was sent."""
        return 100.0 * self.lost / self.sent if self.sent else None


def sequence_stats(sent: int, arrivals: Iterable[int]) -> SequenceStats:
    """Count loss, duplicates and reordering from sequence numbers in arrival order.

    ``sent`` packets carried sequence numbers 0..sent−1; others in ``arrivals`` are ignored.
    A duplicate is a sequence number seen before; a reordered arrival has a sequence number
    lower than the highest seen before it (duplicates are not counted as reordered).
    """
    seen: set[int] = set()
    duplicates = reordered = 0
    highest = -1
    for seq in arrivals:
        if not 0 <= seq < sent:
            continue
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    return SequenceStats(
        sent=sent,
        received=len(seen),
        lost=sent - len(seen),
        duplicates=duplicates,
        reordered=reordered,
    )


def series_metrics(
    prefix: str, values: Sequence[float], unit: str = "ms", figures: Sequence[str] = SERIES_FIGURES
) -> dict[str, MetricValue]:
    """Named figures of a series, e.g. ``rtt_min_ms`` … ``rtt_p99_ms``; None when empty."""
    summary = summarize(values)
    out: dict[str, MetricValue] = {}
    for figure in figures:
        value: float | None
        if summary is None:
            value = None
        elif figure.startswith("p"):
            value = percentile(values, float(figure[1:]))
        else:
            value = getattr(summary, figure)
        out[f"{prefix}_{figure}_{unit}"] = value
    return out


def sequence_metrics(stats: SequenceStats) -> dict[str, MetricValue]:
    """The sequence figures as metrics: sent/received/lost/duplicate/reordered counts, loss %."""
    return {
        "sent_count": stats.sent,
        "received_count": stats.received,
        "lost_count": stats.lost,
        "duplicate_count": stats.duplicates,
        "reordered_count": stats.reordered,
        "loss_pct": stats.loss_pct,
    }


def ns_to_ms(values: Iterable[int]) -> list[float]:
    """Nanoseconds to milliseconds."""
    return [v / 1e6 for v in values]
