"""The profiler's tick grid (pure) and a slow source: ticks stay on the grid."""

from __future__ import annotations

import itertools
import time

import pytest

from waddleperf.profiling.sampler import Sampler, next_tick


@pytest.mark.parametrize(("due", "now", "after"), [
    (10.0, 10.2, 11.0),  # a quick tick: the next grid point
    (10.0, 10.99, 11.0),
    (10.0, 11.0, 12.0),  # ended exactly on the next point: that one is gone
    (10.0, 13.7, 14.0),  # overran three points: skip them, no burst
])  # fmt: skip
def test_next_tick_keeps_the_grid(due: float, now: float, after: float) -> None:
    assert next_tick(due, 1.0, now) == after


class _Slow:
    """A source whose reading takes most of the interval (a loaded machine's /proc)."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def sample(self) -> dict[str, object]:
        time.sleep(self.seconds)
        return {"source": self.name}


def test_a_slow_source_does_not_stretch_the_period() -> None:
    # 0.5 s ticks, each reading 0.35 s: on the grid, 4 s hold 7–8 ticks; had each wait begun
    # after the reading (the old loop), at most 4.7.
    sampler = Sampler([_Slow(0.35)], interval_s=0.5)
    sampler.start()  # primes: one reading before the thread starts
    time.sleep(4.0)
    samples = sampler.stop()
    times = [float(s["time"]) for s in samples]
    assert len(times) >= 6, times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert sum(gaps) / len(gaps) < 0.6, gaps
