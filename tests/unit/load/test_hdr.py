"""Exact percentiles: merge of worker histograms and coordinated-omission correction."""

from __future__ import annotations

import random

import pytest

from waddleperf.load import hdr


def _hist(values: list[float]):
    h = hdr.new_histogram()
    for v in values:
        hdr.record_us(h, v)
    return h


def test_merge_of_parts_equals_one_histogram_of_everything() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(8, 1) for _ in range(20_000)]
    parts = [values[i::3] for i in range(3)]
    merged = hdr.merge(hdr.encode(_hist(p)) for p in parts)
    whole = _hist(values)
    assert hdr.summarize(merged) == hdr.summarize(whole)
    assert merged.get_total_count() == len(values)


def test_percentiles_within_three_significant_digits() -> None:
    values = list(range(1, 100_001))  # 1 µs .. 100 ms, uniform
    stats = hdr.summarize(_hist([float(v) for v in values]))
    for name, pct in hdr.PERCENTILES.items():
        exact_ms = values[int(len(values) * pct / 100) - 1] / 1000
        assert stats[f"latency_{name}"] == pytest.approx(exact_ms, rel=1e-3)
    assert stats["latency_max_ms"] == pytest.approx(100.0, rel=1e-3)
    assert stats["latency_min_ms"] == pytest.approx(0.001)


def test_empty_parts_do_not_pull_the_minimum_to_zero() -> None:
    merged = hdr.merge(["", hdr.encode(hdr.new_histogram()), hdr.encode(_hist([5000.0]))])
    assert hdr.summarize(merged)["latency_min_ms"] == pytest.approx(5.0, rel=1e-3)


def test_empty_summary() -> None:
    assert hdr.summarize(hdr.new_histogram()) == {"latency_count": 0}


def test_corrected_latency_counts_from_the_intended_send_time() -> None:
    # due at t=10.000, sent late at 10.250 (generator blocked), served in 5 ms
    latency = hdr.corrected_latency_us(10.0, 10.25, 5.0)
    assert latency == pytest.approx(255_000.0)


def test_corrected_latency_is_never_below_service_time() -> None:
    # sent early relative to its schedule (clock granularity): service time wins
    assert hdr.corrected_latency_us(10.01, 10.0, 5.0) == pytest.approx(5_000.0)


def test_stall_shows_in_corrected_but_not_in_naive_percentiles() -> None:
    """A 1 s server stall at 100 req/s: naive recording sees one slow request, the corrected
    one sees every request that should have been sent during the stall."""
    rate, t0 = 100.0, 0.0
    naive, corrected = hdr.new_histogram(), hdr.new_histogram()
    now = t0
    for i in range(1000):
        due = hdr.intended_send_time(t0, rate, i)
        start = max(due, now)
        service_ms = 1000.0 if i == 500 else 1.0
        hdr.record_us(naive, service_ms * 1000)
        hdr.record_us(corrected, hdr.corrected_latency_us(due, start, service_ms))
        now = start + service_ms / 1000
    assert hdr.summarize(naive)["latency_p95_ms"] < 2
    assert hdr.summarize(corrected)["latency_p95_ms"] > 400


def test_intended_send_time_rejects_non_positive_rate() -> None:
    assert hdr.intended_send_time(5.0, 4.0, 2) == 5.5
    with pytest.raises(ValueError):
        hdr.intended_send_time(0.0, 0.0, 1)


def test_out_of_range_values_are_clamped() -> None:
    h = _hist([0.0, 1e13])
    assert h.get_total_count() == 2
    assert h.get_min_value() >= hdr.LOWEST_US
