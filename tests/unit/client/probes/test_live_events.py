"""The live events each probe builds from one attempt (pure: an attempt in, an event out)."""

from __future__ import annotations

import errno

import pytest

from waddleperf.probes import progress
from waddleperf.probes.dns import Query, query_event
from waddleperf.probes.http import Repetition, repetition_event
from waddleperf.probes.iperf import interval_event
from waddleperf.probes.speedtest import second_event
from waddleperf.probes.ssh import session_event
from waddleperf.probes.tcp import Attempt, attempt_event
from waddleperf.probes.trace import hop_events
from waddleperf.probes.trace_stats import Observation
from waddleperf.results.model import MetricValue, Sample


def test_tcp_connect_and_its_failures():
    assert attempt_event(0, Attempt("ok", 105_000), 2.0) == progress.Reply(
        0, True, 0.105, "connected"
    )
    refused = attempt_event(1, Attempt("refused", None, errno.ECONNREFUSED), 2.0)
    assert not refused.ok and refused.rtt_ms is None
    assert refused.detail == "refused: connection refused (ECONNREFUSED)"
    timeout = attempt_event(2, Attempt("timeout", None, errno.ETIMEDOUT), 1.5)
    assert timeout.detail == "timeout: no answer within 1.5 s"


def test_http_repetition():
    rep = Repetition(status=200)
    rep.phases["total"], rep.phases["ttfb"] = 2_500_000, 1_250_000
    assert repetition_event(0, rep) == progress.Reply(0, True, 2.5, "HTTP 200 ttfb=1.250 ms")
    failed = Repetition(error="connection refused")
    assert repetition_event(1, failed) == progress.Reply(1, False, None, "connection refused")


def test_dns_query():
    ok = Query("127.0.0.1:53", "NOERROR", 1_500_000, ["127.0.0.1"])
    assert query_event(0, ok) == progress.Reply(0, True, 1.5, "127.0.0.1:53 NOERROR 127.0.0.1")
    nx = Query("127.0.0.1:53", "NXDOMAIN", 900_000, [], None)
    assert query_event(1, nx) == progress.Reply(1, False, 0.9, "127.0.0.1:53 NXDOMAIN")
    silent = Query("127.0.0.1:53", "timeout", None, [], "no answer within 2 s")
    assert query_event(2, silent).detail == "127.0.0.1:53 timeout no answer within 2 s"


def test_trace_round_stops_at_the_destination():
    seen = [
        Observation(0, 3, "10.0.0.9", 3.0, final=True),
        Observation(0, 1, "10.0.0.1", 1.0),
        Observation(0, 2),
        Observation(0, 4, "10.0.0.9", 3.1, final=True),  # beyond the destination: not shown
    ]
    assert hop_events(seen, 5) == [
        progress.Hop(0, 5, 1, "10.0.0.1", 1.0),
        progress.Hop(0, 5, 2, None, None),
        progress.Hop(0, 5, 3, "10.0.0.9", 3.0, final=True),
    ]
    unanswered = hop_events([Observation(1, 1), Observation(1, 2)], 5)
    assert [h.ttl for h in unanswered] == [1, 2]


def test_ssh_session_line():
    metrics: dict[str, MetricValue] = {"connect_ms": 0.2, "kex_ms": 5.0, "total_ms": 6.0}
    assert session_event(metrics, None) == progress.Reply(
        0, True, 6.0, "connect 0.200 ms, kex 5.000 ms"
    )
    failed = session_event({"connect_ms": 0.2, "total_ms": 2.2}, "SSH key exchange failed.")
    assert not failed.ok and failed.detail == "connect 0.200 ms; SSH key exchange failed."


def test_speedtest_second_goodput():
    ticks = [(0.2 * i, 125_000 * i) for i in range(1, 11)]  # 125 kB per 0.2 s: 5 Mbit/s
    event = second_event("download", ticks)
    assert event.phase == "download" and event.figures["moved_bytes"] == 1_250_000
    assert event.figures["goodput_mbps"] == pytest.approx(5.0)
    assert event.figures["elapsed_s"] == 2.0


def test_iperf_interval_keeps_numbers_only():
    sample: Sample = {"interval": 0, "direction": "main", "end_s": 1.0, "bytes": 1_000_000,
              "throughput_mbps": 8.0, "retransmits_count": None, "omitted": False}  # fmt: skip
    assert interval_event(sample) == progress.Interval(
        "interval", {"elapsed_s": 1.0, "throughput_mbps": 8.0, "moved_bytes": 1_000_000}
    )
