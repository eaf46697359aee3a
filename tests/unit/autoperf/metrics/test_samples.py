"""A cycle's records as metric samples: base units, bounded labels, reasons."""

from __future__ import annotations

import pytest

from tests.support.builders import make_result
from waddleperf.autoperf.metrics.samples import (
    BUCKETS,
    REASONS,
    cycle_metrics,
    deescalation_reason,
    escalation_reason,
)
from waddleperf.results.model import Result, Status

ICMP = ("lo", "1", "icmp", "icmp")


def _icmp(**over: object) -> Result:
    return make_result(
        info={"server": "lo", "step": "icmp"},
        metrics={"rtt_avg_ms": 12.5, "rtt_p50_ms": 12.0, "rtt_p99_ms": 30.0,
                 "jitter_ms": 2.0, "loss_pct": 5.0},
        samples=[{"seq": 0, "rtt_ms": 10.0}, {"seq": 1, "rtt_ms": None},
                 {"seq": 2, "rtt_ms": 15.0}],
        **over,
    )  # fmt: skip


def test_latency_loss_and_jitter_are_in_base_units() -> None:
    out = cycle_metrics([_icmp()], {"lo": 1}, 3.25)
    rtt = out.gauges["waddleperf_rtt_seconds"]
    assert rtt[(*ICMP, "avg")] == pytest.approx(0.0125)
    assert rtt[(*ICMP, "p50")] == pytest.approx(0.012)
    assert rtt[(*ICMP, "p99")] == pytest.approx(0.030)
    assert (*ICMP, "max") not in rtt  # not in the record: no series, never a zero
    assert out.gauges["waddleperf_loss_ratio"][ICMP] == pytest.approx(0.05)
    assert out.gauges["waddleperf_jitter_seconds"][ICMP] == pytest.approx(0.002)
    assert out.gauges["waddleperf_probe_success"][ICMP] == 1.0
    assert out.gauges["waddleperf_probe_duration_seconds"][ICMP] == pytest.approx(1.0)
    assert out.gauges["waddleperf_tier"][("lo",)] == 1.0
    assert out.gauges["waddleperf_cycle_duration_seconds"][()] == 3.25
    # the lost packet (rtt None) is no observation
    assert out.observations[ICMP] == pytest.approx([0.010, 0.015])


def test_tcp_and_http_latency_and_failure_share() -> None:
    tcp = make_result(kind="probe.tcp", info={"server": "lo", "step": "tcp"},
                      metrics={"connect_avg_ms": 1.5, "failure_pct": 50.0},
                      samples=[{"attempt": 0, "connect_ms": 1.5}])  # fmt: skip
    http = make_result(kind="probe.http", tier=2, info={"server": "lo", "step": "web"},
                       metrics={"total_p95_ms": 200.0, "failure_pct": 0.0})  # fmt: skip
    out = cycle_metrics([tcp, http], {}, None)
    rtt = out.gauges["waddleperf_rtt_seconds"]
    assert rtt[("lo", "1", "tcp", "tcp", "avg")] == pytest.approx(0.0015)
    assert rtt[("lo", "2", "web", "http", "p95")] == pytest.approx(0.2)
    assert out.gauges["waddleperf_loss_ratio"][("lo", "1", "tcp", "tcp")] == 0.5
    assert out.observations[("lo", "1", "tcp", "tcp")] == [0.0015]
    assert "waddleperf_cycle_duration_seconds" not in out.gauges


def test_throughput_in_bits_per_second_by_direction() -> None:
    iperf = make_result(
        kind="probe.iperf",
        tier=2,
        info={"server": "lo", "step": "iperf"},
        metrics={"received_throughput_mbps": 940.5, "sent_throughput_mbps": 941.0},
    )
    out = cycle_metrics([iperf], {"lo": 2}, 1.0)
    tput = out.gauges["waddleperf_throughput_bits_per_second"]
    assert tput[("lo", "2", "iperf", "iperf", "received")] == pytest.approx(940.5e6)
    assert tput[("lo", "2", "iperf", "iperf", "sent")] == pytest.approx(941e6)
    assert "waddleperf_rtt_seconds" not in out.gauges


def test_a_failed_probe_is_success_zero_without_figures() -> None:
    failed = make_result(status=Status.FAILED, error="host unreachable", metrics={},
                         info={"server": "lo", "step": "icmp"})  # fmt: skip
    out = cycle_metrics([failed], {"lo": 1}, 1.0)
    assert out.gauges["waddleperf_probe_success"][ICMP] == 0.0
    assert "waddleperf_rtt_seconds" not in out.gauges
    labels = {v for series in out.gauges.values() for key in series for v in key}
    assert "host unreachable" not in labels  # no free text as a label value


def _event(**info: object) -> Result:
    return make_result(kind="autoperf.event", metrics={}, tier=2, info=info)


def test_escalations_by_threshold_key_and_deescalations_by_cause() -> None:
    records = [
        _event(event="escalation", server="lo", from_tier=1, to_tier=2,
               reason="tier-1 breach: icmp rtt_avg_ms 150 > 100 (rtt_ms)",
               metric="rtt_avg_ms", critical=False),
        _event(event="escalation", server="lo", from_tier=2, to_tier=3,
               reason="critical tier-1 condition: …", metric="loss_pct", critical=True),
        _event(event="deescalation", server="lo", from_tier=3, to_tier=1,
               reason="cleared: every tier-1 figure within thresholds", metric=None),
    ]  # fmt: skip
    out = cycle_metrics(records, {"lo": 1}, 1.0)
    assert out.escalations == {("lo", "2", "rtt_ms"): 1, ("lo", "3", "critical_loss_pct"): 1}
    assert out.deescalations == {("lo", "cleared"): 1}


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ({"metric": None, "reason": "forced by --force-tier"}, "forced"),
        ({"metric": "icmp.status", "critical": None}, "failure"),
        ({"metric": "received_throughput_mbps", "critical": True}, "throughput_floor_mbps"),
        ({"metric": "failure_pct", "critical": False}, "loss_pct"),
        ({"metric": "query_avg_ms", "critical": False}, "dns_ms"),
        ({"metric": "something_new_ms", "critical": False}, "failure"),
    ],
)
def test_escalation_reasons_stay_in_the_bounded_set(info: dict[str, object], reason: str) -> None:
    assert escalation_reason(info) == reason
    assert reason in REASONS


def test_deescalation_reasons() -> None:
    assert deescalation_reason({"reason": "held tier 2 for 3 cycle(s), the maximum"}) == (
        "held_max_cycles"
    )
    assert deescalation_reason({"reason": "forced by --force-tier"}) == "forced"


def test_buckets_are_smokeping_probers() -> None:
    assert BUCKETS[0] == 0.00005 and len(BUCKETS) == 20
    assert BUCKETS[-1] == pytest.approx(26.2144)
