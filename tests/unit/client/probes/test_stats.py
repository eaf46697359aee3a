"""Pure statistics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from waddleperf.probes import stats


def test_summarize_matches_iputils_mdev():
    # iputils: mdev = sqrt(mean(x²) − mean(x)²); for 1,2,3,4: mean 2.5, mean x² 7.5 → sqrt(1.25)
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s is not None
    assert (s.min, s.avg, s.max) == (1.0, 2.5, 4.0)
    assert s.mdev == pytest.approx(math.sqrt(1.25))


def test_summarize_constant_and_empty():
    s = stats.summarize([0.1] * 7)
    assert s is not None and s.mdev == 0.0
    assert stats.summarize([]) is None


@pytest.mark.parametrize(
    ("p", "want"), [(50, 5.0), (95, 10.0), (99, 10.0), (10, 1.0), (100, 10.0), (51, 6.0)]
)
def test_percentile_nearest_rank(p, want):
    values = [float(v) for v in (10, 9, 8, 7, 6, 5, 4, 3, 2, 1)]
    assert stats.percentile(values, p) == want


def test_percentile_edges():
    assert stats.percentile([], 50) is None
    assert stats.percentile([3.0], 1) == 3.0
    with pytest.raises(ValueError):
        stats.percentile([1.0], 0)


def test_rfc3550_jitter_known_values():
    # D = 10, 0, 10 → J1 = 10/16, J2 = J1 − J1/16, J3 = J2 + (10 − J2)/16
    j1 = 10 / 16
    j2 = j1 + (0 - j1) / 16
    j3 = j2 + (10 - j2) / 16
    assert stats.rfc3550_jitter([0.0, 10.0, 10.0, 20.0]) == pytest.approx(j3)
    assert stats.rfc3550_jitter([5.0]) is None
    assert stats.rfc3550_jitter([5.0, 5.0, 5.0]) == 0.0


def test_sequence_stats_loss_dups_reorder():
    s = stats.sequence_stats(6, [0, 2, 1, 1, 3, 5, 99])
    assert (s.sent, s.received, s.lost, s.duplicates, s.reordered) == (6, 5, 1, 1, 1)
    assert s.loss_pct == pytest.approx(100 / 6)


def test_sequence_stats_reordered_is_relative_to_highest():
    # 3 arrives first: 0, 1, 2 each arrive below the highest seen (3) → 3 reordered.
    s = stats.sequence_stats(4, [3, 0, 1, 2])
    assert s.reordered == 3 and s.lost == 0
    assert stats.sequence_stats(0, []).loss_pct is None


def test_series_metrics_names_and_empty():
    m = stats.series_metrics("rtt", [1.0, 3.0], figures=("min", "avg", "p50"))
    assert m == {"rtt_min_ms": 1.0, "rtt_avg_ms": 2.0, "rtt_p50_ms": 1.0}
    empty = stats.series_metrics("rtt", [])
    assert set(empty.values()) == {None} and "rtt_p99_ms" in empty


def test_sequence_metrics():
    m = stats.sequence_metrics(stats.sequence_stats(4, [0, 1, 2, 3]))
    assert m["loss_pct"] == 0.0 and m["received_count"] == 4
