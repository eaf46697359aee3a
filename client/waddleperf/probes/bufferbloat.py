"""Responsiveness (RPM) aggregation and bufferbloat grade. Pure: latencies (ms) in, figures out.

Trimmed mean TM_p: the mean of the samples at or below the p-th percentile (nearest rank, as
in stats.percentile), so the slowest (100 − p) % are dropped; p = 90 by default.

A *foreign* probe opens a new connection and fetches the small object: its TCP connect time
(one round trip) and its HTTP request → response time (one round trip) are two samples. A
*self* sample is a round trip seen on a load-generating connection (here the kernel's RTT
estimate of that TCP connection, see rpm.py). After the draft's formula, without TLS:

    latency = ½ · (½ · TM(tcp_f) + ½ · TM(http_f)) + ½ · TM(self)       [ms]
    RPM     = 60 000 / latency                                           [round trips/min]

with only foreign probes (no self samples) latency = ½ · TM(tcp_f) + ½ · TM(http_f).

Bufferbloat grade, from the latency increase under load (loaded − idle, ms), after the table
Waveform's bufferbloat test publishes: A+ < 5, A < 30, B < 60, C < 200, D < 400, F otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from waddleperf.probes.stats import percentile

#: (upper bound of the latency increase in ms, exclusive; grade), best first.
GRADES: tuple[tuple[float, str], ...] = (
    (5.0, "A+"),
    (30.0, "A"),
    (60.0, "B"),
    (200.0, "C"),
    (400.0, "D"),
    (math.inf, "F"),
)


def trimmed_mean(values: Sequence[float], p: float = 90.0) -> float | None:
    """Mean of ``values`` at or below their p-th percentile (nearest rank); None when empty."""
    cut = percentile(values, p)
    if cut is None:
        return None
    kept = [v for v in values if v <= cut]
    return math.fsum(kept) / len(kept)


def probe_latency_ms(
    tcp_ms: Sequence[float], http_ms: Sequence[float], self_ms: Sequence[float], p: float = 90.0
) -> float | None:
    """The draft's weighted latency in ms from foreign (tcp, http) and self samples.

    None when a foreign series is empty (no foreign probe completed).
    """
    tcp, http = trimmed_mean(tcp_ms, p), trimmed_mean(http_ms, p)
    if tcp is None or http is None:
        return None
    foreign = (tcp + http) / 2
    own = trimmed_mean(self_ms, p)
    return foreign if own is None else (foreign + own) / 2


def rpm(latency_ms: float | None) -> float | None:
    """Round trips per minute for a latency in ms (60 000 / latency); None if unknown or ≤ 0."""
    if latency_ms is None or latency_ms <= 0:
        return None
    return 60_000.0 / latency_ms


def grade(increase_ms: float | None) -> str | None:
    """The bufferbloat grade (A+ … F) for a latency increase under load in ms; None if unknown."""
    if increase_ms is None:
        return None
    for bound, letter in GRADES:
        if increase_ms < bound:
            return letter
    return GRADES[-1][1]
