"""The draft's working-conditions logic on known inputs: moving averages, stability, ramp-up."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from waddleperf.probes import rpm_stability as rs
from waddleperf.probes.rpm import RpmOptions

finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_moving_average_takes_the_last_mad_values():
    assert rs.moving_average([], 4) is None
    assert rs.moving_average([2.0], 4) == 2.0
    assert rs.moving_average([1.0, 2.0, 3.0], 4) == 2.0
    assert rs.moving_average([100.0, 1.0, 2.0, 3.0, 6.0], 4) == 3.0


def test_stability_needs_mad_values_within_sdt_of_the_latest():
    assert not rs.is_stable([100.0, 100.0, 100.0], 4, 0.05)  # fewer than MAD
    assert rs.is_stable([100.0, 100.0, 100.0, 100.0], 4, 0.05)
    assert rs.is_stable([0.0, 99.0, 101.0, 100.0, 100.0], 4, 0.05)  # only the last 4 count
    spread = [90.0, 100.0, 110.0, 100.0]  # pstdev 7.07 > 5 % of 100
    assert not rs.is_stable(spread, 4, 0.05) and rs.is_stable(spread, 4, 0.08)
    assert not rs.is_stable([0.0, 0.0, 0.0, 0.0], 4, 0.05)  # nothing moved: not "stable"
    assert not rs.is_stable([5.0, 5.0], 1, 0.05)  # one value has no deviation to judge


@given(st.lists(finite, min_size=1, max_size=30), st.integers(2, 8),
       st.floats(0.001, 0.5))  # fmt: skip
def test_stability_is_the_definition(values, mad, sdt):
    expected = (
        len(values) >= mad
        and values[-1] > 0
        and statistics.pstdev(values[-mad:]) <= sdt * values[-1]
    )
    assert rs.is_stable(values, mad, sdt) == expected


@given(st.integers(0, 80), st.booleans(), st.integers(1, 16), st.integers(1, 64))
def test_connections_never_exceed_the_maximum(current, saturated, step, maximum):
    add = rs.connections_to_add(current, saturated, step, maximum)
    assert 0 <= add <= step
    assert current + add <= max(current, maximum)
    if saturated or current >= maximum:
        assert add == 0
    else:
        assert add == min(step, maximum - current)


def test_confidence_levels():
    assert rs.confidence(2, True, 4) == "high"
    assert rs.confidence(4, False, 4) == "medium"
    assert rs.confidence(3, False, 4) == "low"


def run_tracker(goodputs, rpms, start=4, **kw):
    wc = rs.WorkingConditions(**kw)
    conns, decisions = start, []
    for goodput, rpm in zip(goodputs, rpms, strict=True):
        d = wc.add_interval(goodput, rpm, conns)
        decisions.append(d)
        if d.done:
            break
        conns += d.add
    return wc, decisions, conns


def test_ramp_adds_until_goodput_is_stable_then_waits_for_rpm():
    goodputs = [10.0, 40.0, 80.0, 95.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0]
    rpms = [3000.0, 2000.0, 900.0, 600.0, 500.0, 450.0, 400.0, 400.0, 400.0, 400.0, 400.0, 400.0]
    wc, decisions, conns = run_tracker(goodputs, rpms, mad=4, sdt=0.05, step=4, maximum=16)
    saturated = wc.saturated_at
    assert saturated is not None
    # averages 10, 25, 43.3, 56.25, 78.75, 93.75, 98.75, 100, 100: the last four 93.75 … 100
    # have σ 2.6 ≤ 5 % of 100 at interval 8 (at 7, 78.75 … 100 give σ 8.4)
    assert saturated == 8
    assert [d.add for d in decisions[:saturated]] == [4, 4, 4, 0, 0, 0, 0, 0]  # capped at 16
    assert all(d.add == 0 for d in decisions[saturated:])
    assert conns == 16
    # RPM tracked from the saturation interval: 400 × 4 → stable at interval 11
    assert wc.rpms == [400.0, 400.0, 400.0, 400.0] and wc.rpm_stable and decisions[-1].done
    assert len(wc.intervals) == 12 and wc.intervals[-1].rpm_stable
    assert wc.goodput_confidence() == wc.rpm_confidence() == "high"
    assert wc.goodput_mbps() == 100.0


def test_flat_path_settles_in_two_mad_minus_one_intervals():
    wc, decisions, conns = run_tracker([50.0] * 20, [1000.0] * 20, mad=4, sdt=0.05, step=4)
    assert wc.saturated_at == 3 and len(wc.intervals) == 7 and decisions[-1].done
    assert conns == 4 + 4 * 3  # added after intervals 0, 1, 2; none once saturated


def test_unstable_rpm_is_medium_confidence_and_missing_rpm_not_counted():
    rpms = [None, 100.0, 200.0, None, 100.0, 200.0, 100.0, 200.0, 100.0, 200.0]
    wc, decisions, _ = run_tracker([50.0] * 10, rpms, mad=4, sdt=0.05)
    assert not decisions[-1].done and wc.goodput_stable and not wc.rpm_stable
    assert None not in wc.rpms and wc.rpm_confidence() == "medium"
    assert wc.goodput_confidence() == "high"


def test_never_saturating_goodput_keeps_low_rpm_confidence():
    goodputs = [10.0 * 2**i for i in range(8)]
    wc, _, conns = run_tracker(goodputs, [500.0] * 8, mad=4, sdt=0.05, maximum=64)
    assert not wc.goodput_stable and wc.rpms == [] and wc.rpm_confidence() == "low"
    assert wc.goodput_confidence() == "medium" and conns == 4 + 4 * 8


@given(st.lists(st.tuples(finite, st.one_of(st.none(), finite)), max_size=60),
       st.integers(1, 64), st.integers(1, 16), st.integers(1, 64))  # fmt: skip
def test_tracker_invariants(steps, start, step, maximum):
    wc = rs.WorkingConditions(mad=4, sdt=0.05, step=step, maximum=maximum)
    conns = start
    for goodput, rpm in steps:
        d = wc.add_interval(goodput, rpm, conns)
        assert conns + d.add <= max(conns, maximum)
        assert not d.done or (wc.goodput_stable and wc.rpm_stable)
        if d.done:
            break
        conns += d.add
    assert len(wc.intervals) == len(wc.goodput_averages) <= len(steps)
    assert (wc.rpm_confidence() == "high") == wc.rpm_stable
    for i, avg in enumerate(wc.goodput_averages):  # each the mean of its window
        window = wc.goodputs[max(0, i - 3) : i + 1]
        assert avg == pytest.approx(sum(window) / len(window))


def test_tracker_rejects_nonsense():
    with pytest.raises(ValueError, match="goodput"):
        rs.WorkingConditions().add_interval(float("nan"), None, 4)
    with pytest.raises(ValueError, match="mad"):
        rs.WorkingConditions(mad=1)


def test_merged_series():
    a = rs.Series(tcp=[1.0], http=[2.0], own=[3.0], failed=1, last_error="x")
    b = rs.Series(tcp=[4.0], own=[5.0])
    m = rs.merged([a, b])
    assert (m.tcp, m.http, m.own, m.failed, m.last_error) == ([1.0, 4.0], [2.0], [3.0, 5.0], 1, "x")


def test_options_default_fixed_and_draft_bounds():
    base = {"target": "http://127.0.0.1:9/"}
    o = RpmOptions.model_validate(base)
    assert o.mode == "fixed" and o.max_parallel == 16 and o.max_duration_s == 20
    assert o.stability_interval_s == 1.0 and o.mad == 4 and o.sdt_pct == 5.0
    assert RpmOptions.model_validate({**base, "mode": "draft"}).add_parallel == 4
    for bad, fragment in (
        ({"load": "iperf"}, "load http"),
        ({"parallel": 8, "max_parallel": 4}, "max_parallel"),
        ({"max_parallel": 65}, "less than or equal"),
        ({"max_duration_s": 61}, "less than or equal"),
        ({"stability_interval_s": 2, "max_duration_s": 1}, "stability_interval_s"),
        ({"mode": "ramp"}, "fixed"),
    ):
        with pytest.raises(ValidationError, match=fragment):
            RpmOptions.model_validate({**base, "mode": "draft", **bad})
    RpmOptions.model_validate({**base, "load": "iperf", "parallel": 32})  # fixed: as before
