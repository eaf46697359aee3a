"""Working conditions after draft-ietf-ippm-responsiveness: moving averages, stability, ramp-up.

Pure: per-interval figures in, decisions out; the I/O is in rpm.py and rpm_load.py.

Every interval (ID, 1 s by default) the caller reports the goodput of that interval (Mbit/s),
the responsiveness (RPM) computed over the probes of the last MAD intervals, and how many load
connections are open. :class:`WorkingConditions` then decides:

- **goodput**: its moving average at interval *i* is the mean of the goodputs of intervals
  *i − MAD + 1 … i* (fewer at the start). Goodput is *stable* (saturated) once MAD moving
  averages exist and their population standard deviation is at most SDT × the latest one.
  Until then, ``step`` connections are added each interval, never beyond ``max_connections``.
- **responsiveness**: tracked from the interval goodput became stable onwards; stable when MAD
  such RPM values exist and their standard deviation is at most SDT × the latest.
- the test of that direction is **done** when both are stable; the caller also stops at its
  maximum test duration (MTD), and reports the confidence the draft defines: *high* (stable),
  *medium* (at least MAD values but not stable), *low* (fewer than MAD values).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Confidence = Literal["high", "medium", "low"]


@dataclass
class Series:
    """Latency samples of one phase or interval, in ms."""

    tcp: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)
    failed: int = 0
    last_error: str | None = None

    def extend(self, other: Series) -> None:
        """Add ``other``'s samples and failures to this one."""
        self.tcp.extend(other.tcp)
        self.http.extend(other.http)
        self.own.extend(other.own)
        self.failed += other.failed
        self.last_error = other.last_error or self.last_error


def merged(parts: Sequence[Series]) -> Series:
    """One series holding the samples of ``parts`` (e.g. the last MAD intervals)."""
    out = Series()
    for part in parts:
        out.extend(part)
    return out


def moving_average(values: Sequence[float], mad: int) -> float | None:
    """Mean of the last ``mad`` values (all of them when fewer); None when empty."""
    window = values[-mad:] if mad > 0 else []
    return math.fsum(window) / len(window) if window else None


def is_stable(values: Sequence[float], mad: int, sdt: float) -> bool:
    """True when at least ``mad`` values exist and the population standard deviation of the
    last ``mad`` is at most ``sdt`` (a fraction: 0.05 = 5 %) of the latest, which is > 0."""
    if mad < 2 or len(values) < mad:
        return False
    window = values[-mad:]
    latest = window[-1]
    if not latest > 0 or not all(math.isfinite(v) for v in window):
        return False
    return statistics.pstdev(window) <= sdt * latest


def confidence(count: int, stable: bool, mad: int) -> Confidence:
    """The draft's confidence in a figure: high if stable, medium after ≥ MAD values, else low."""
    if stable:
        return "high"
    return "medium" if count >= mad else "low"


def connections_to_add(current: int, saturated: bool, step: int, maximum: int) -> int:
    """How many load connections to open at the end of an interval: ``step`` while goodput is
    not yet saturated, capped so that ``maximum`` is never exceeded; 0 otherwise."""
    if saturated or current >= maximum:
        return 0
    return max(0, min(step, maximum - current))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after an interval: open ``add`` connections; stop when ``done``."""

    add: int
    done: bool


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval as the tracker saw it (Mbit/s, round trips per minute)."""

    index: int
    connections: int
    goodput_mbps: float
    goodput_avg_mbps: float
    rpm: float | None
    goodput_stable: bool
    rpm_stable: bool


class WorkingConditions:
    """The draft's ramp-up and stability detection for one direction (see the module doc)."""

    def __init__(self, mad: int = 4, sdt: float = 0.05, step: int = 4, maximum: int = 16) -> None:
        if mad < 2 or sdt <= 0 or step < 1 or maximum < 1:
            raise ValueError("mad ≥ 2, sdt > 0, step ≥ 1 and maximum ≥ 1 are required")
        self.mad, self.sdt, self.step, self.maximum = mad, sdt, step, maximum
        self.goodputs: list[float] = []
        self.goodput_averages: list[float] = []
        self.rpms: list[float] = []
        self.intervals: list[Interval] = []
        self.saturated_at: int | None = None
        self.rpm_stable = False

    @property
    def goodput_stable(self) -> bool:
        """True once goodput saturation has been declared."""
        return self.saturated_at is not None

    @property
    def done(self) -> bool:
        """Both goodput and responsiveness are stable."""
        return self.goodput_stable and self.rpm_stable

    def add_interval(self, goodput_mbps: float, rpm: float | None, connections: int) -> Decision:
        """Record one interval: its goodput (Mbit/s), the RPM over the last MAD intervals'
        probes (None when none succeeded) and the load connections open during it."""
        if not math.isfinite(goodput_mbps) or goodput_mbps < 0:
            raise ValueError(f"goodput must be a finite number ≥ 0, got {goodput_mbps!r}")
        index = len(self.goodputs)
        self.goodputs.append(goodput_mbps)
        average = moving_average(self.goodputs, self.mad)
        assert average is not None  # one value was just appended
        self.goodput_averages.append(average)
        if self.saturated_at is None and is_stable(self.goodput_averages, self.mad, self.sdt):
            self.saturated_at = index
        if self.saturated_at is not None and not self.rpm_stable and rpm is not None:
            self.rpms.append(rpm)
            self.rpm_stable = is_stable(self.rpms, self.mad, self.sdt)
        step = Interval(
            index=index, connections=connections, goodput_mbps=goodput_mbps,
            goodput_avg_mbps=average, rpm=rpm, goodput_stable=self.goodput_stable,
            rpm_stable=self.rpm_stable,
        )  # fmt: skip
        self.intervals.append(step)
        add = connections_to_add(connections, self.goodput_stable, self.step, self.maximum)
        return Decision(add=add, done=self.done)

    def goodput_confidence(self) -> Confidence:
        """Confidence in the goodput figure."""
        return confidence(len(self.goodput_averages), self.goodput_stable, self.mad)

    def rpm_confidence(self) -> Confidence:
        """Confidence in the responsiveness figure (low until goodput saturated)."""
        return confidence(len(self.rpms), self.rpm_stable, self.mad)

    def goodput_mbps(self) -> float | None:
        """The latest moving average of goodput (Mbit/s): the draft's capacity figure."""
        return self.goodput_averages[-1] if self.goodput_averages else None
