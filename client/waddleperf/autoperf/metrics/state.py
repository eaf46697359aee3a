"""What the exporter keeps between cycles: the last cycle's gauges and the running totals.

The agent's thread commits a cycle (:meth:`ExporterState.commit`); the scrape thread takes a
:meth:`~ExporterState.snapshot`. One lock makes every scrape see one whole cycle, never half
of one. Pure (no I/O): the caller passes the clock's reading.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from waddleperf.autoperf.metrics.samples import BUCKETS, CycleMetrics, Labels


@dataclass
class Histogram:
    """Cumulative latency observations of one series: counts per bucket (not cumulative
    across buckets; the last slot is +Inf), their count and sum, in seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, values: Sequence[float]) -> None:
        """Add observations (seconds)."""
        for value in values:
            self.counts[bisect.bisect_left(BUCKETS, value)] += 1
            self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count ≤ le)`` pairs as the exposition wants them, ending with ``+Inf``."""
        running, out = 0, []
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


@dataclass
class Snapshot:
    """A consistent copy for one scrape."""

    cycles: int = 0
    last_cycle_at: float | None = None
    gauges: dict[str, dict[Labels, float]] = field(default_factory=dict)
    histograms: dict[Labels, Histogram] = field(default_factory=dict)
    escalations: dict[Labels, int] = field(default_factory=dict)
    deescalations: dict[Labels, int] = field(default_factory=dict)


class ExporterState:
    """The last cycle and the totals since the agent started, shared by two threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = Snapshot()

    def commit(self, cycle: CycleMetrics, at: float) -> None:
        """Make ``cycle`` the last one (its gauges replace the previous cycle's: a series the
        cycle did not measure disappears) and add its observations and transitions."""
        with self._lock:
            data = self._data
            data.cycles += 1
            data.last_cycle_at = at
            data.gauges = {name: dict(series) for name, series in cycle.gauges.items()}
            for labels, values in cycle.observations.items():
                data.histograms.setdefault(labels, Histogram()).observe(values)
            for totals, more in ((data.escalations, cycle.escalations),
                                 (data.deescalations, cycle.deescalations)):  # fmt: skip
                for labels, count in more.items():
                    totals[labels] = totals.get(labels, 0) + count

    def snapshot(self) -> Snapshot:
        """A copy to read without the lock."""
        with self._lock:
            d = self._data
            hists = {k: Histogram(list(h.counts), h.total) for k, h in d.histograms.items()}
            return Snapshot(
                d.cycles,
                d.last_cycle_at,
                {name: dict(series) for name, series in d.gauges.items()},
                hists,
                dict(d.escalations),
                dict(d.deescalations),
            )
