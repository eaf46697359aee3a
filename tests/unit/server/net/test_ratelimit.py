"""Token buckets and log throttling with a fake clock: no sleeping, no I/O."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddleperf_server.net.ratelimit import DropTally, LogThrottle, TokenBucketLimiter


def test_burst_then_refill_at_rate() -> None:
    lim = TokenBucketLimiter(rate=10, burst=5, max_sources=16)
    assert [lim.allow("a", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not lim.allow("a", 0.05)  # half a token is not enough
    assert lim.allow("a", 0.1)
    assert not lim.allow("a", 0.1)


def test_refill_never_exceeds_burst() -> None:
    lim = TokenBucketLimiter(rate=1000, burst=3, max_sources=16)
    lim.allow("a", 0.0)
    assert sum(lim.allow("a", 3600.0) for _ in range(10)) == 3


def test_sources_are_independent() -> None:
    lim = TokenBucketLimiter(rate=1, burst=2, max_sources=16)
    assert sum(lim.allow("a", 0.0) for _ in range(5)) == 2
    assert sum(lim.allow("b", 0.0) for _ in range(5)) == 2


def test_clock_going_backwards_mints_nothing() -> None:
    lim = TokenBucketLimiter(rate=1, burst=1, max_sources=16)
    assert lim.allow("a", 100.0)
    assert not lim.allow("a", 50.0)
    assert not lim.allow("a", 100.5)
    assert lim.allow("a", 101.0)


def test_memory_bounded_and_least_recently_seen_evicted() -> None:
    lim = TokenBucketLimiter(rate=1, burst=1, max_sources=3)
    for src in ("a", "b", "c"):
        lim.allow(src, 0.0)
    lim.allow("a", 0.0)  # a is now the most recently seen
    lim.allow("d", 0.0)  # evicts b
    assert len(lim) == 3 and lim.evictions == 1
    assert lim.tokens("b") is None
    assert lim.tokens("a") == 0.0


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=2000))
def test_spoofed_flood_never_grows_past_bound(sources: list[int]) -> None:
    lim = TokenBucketLimiter(rate=5, burst=5, max_sources=32)
    for i, src in enumerate(sources):
        lim.allow(src, i * 0.001)
        assert len(lim) <= 32


@given(
    st.floats(min_value=0.5, max_value=1000),
    st.integers(min_value=1, max_value=100),
    st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=300),
)
def test_allowed_never_exceeds_burst_plus_rate_times_time(
    rate: float, burst: int, gaps: list[float]
) -> None:
    lim = TokenBucketLimiter(rate=rate, burst=burst, max_sources=16)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += lim.allow("x", now)
    assert allowed <= burst + rate * now + 1e-6


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=0, burst=1, max_sources=1)
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate=1, burst=0, max_sources=1)


def test_log_throttle_counts_suppressed_lines() -> None:
    t = LogThrottle(interval_s=10)
    assert t.admit("rate", 0.0) == 0
    assert t.admit("rate", 1.0) is None
    assert t.admit("rate", 9.9) is None
    assert t.admit("hmac", 5.0) == 0  # event types are throttled separately
    assert t.admit("rate", 10.0) == 2


def test_log_throttle_writes_one_line(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("waddleperf.test.throttle")
    t = LogThrottle(interval_s=10)
    with caplog.at_level(logging.INFO, logger=log.name):
        for i in range(100):
            t.log(log, "flood", i * 0.01, "dropped %s", "x")
        t.log(log, "flood", 20.0, "dropped %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "dropped x",
        "dropped y (99 similar suppressed)",
    ]


def test_drop_tally_counts_per_source_and_resets_when_asked() -> None:
    tally = DropTally(max_sources=16)
    assert tally.report(("10.0.0.1", 5000), query=1) == 0 and len(tally) == 0  # costs nothing
    for _ in range(3):
        tally.dropped(("10.0.0.1", 5000))
    tally.dropped(("10.0.0.1", 5001))  # same address, another socket: its own count
    assert tally.report(("10.0.0.1", 5000), query=7) == 3
    assert tally.report(("10.0.0.1", 5000), query=7) == 3  # the answer was lost: same answer
    tally.dropped(("10.0.0.1", 5000))
    assert tally.report(("10.0.0.1", 5000), query=7) == 3  # still the same query
    assert tally.report(("10.0.0.1", 5000), query=8) == 1  # a new query: what came since
    assert tally.report(("10.0.0.1", 5000), query=9) == 0
    assert tally.report(("10.0.0.1", 5001), query=7) == 1


def test_drop_tally_memory_is_bounded() -> None:
    tally = DropTally(max_sources=4)
    for port in range(100):
        tally.dropped(("10.0.0.1", port))
    assert len(tally) == 4
    assert tally.report(("10.0.0.1", 0), query=1) == 0  # forgotten: the price of the bound
    assert tally.report(("10.0.0.1", 99), query=1) == 1
    with pytest.raises(ValueError, match="max_sources"):
        DropTally(max_sources=0)
