"""iperf3 -J parsing on JSON captured from real iperf3 3.12 runs, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from waddleperf.probes.iperf import IperfOptions, iperf3_argv
from waddleperf.probes.iperf_json import parse_report, tcp_rtt_ms

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_text())
    return doc


def test_tcp_sent_received_retransmits_and_rtt():
    doc = load("iperf3_tcp.json")
    r = parse_report(doc)
    assert r.error is None and r.protocol == "TCP" and not r.reverse and not r.bidir
    end = doc["end"]
    assert r.metrics["sent_throughput_mbps"] == end["sum_sent"]["bits_per_second"] / 1e6
    assert r.metrics["received_throughput_mbps"] == end["sum_received"]["bits_per_second"] / 1e6
    assert r.metrics["retransmits_count"] == end["sum_sent"]["retransmits"]
    assert r.metrics["rtt_mean_ms"] == end["streams"][0]["sender"]["mean_rtt"] / 1000
    assert r.metrics["rtt_min_ms"] == end["streams"][0]["sender"]["min_rtt"] / 1000
    assert r.notes == []
    assert len(r.samples) == len(doc["intervals"]) == 4
    first = r.samples[0]
    assert first["throughput_mbps"] == doc["intervals"][0]["sum"]["bits_per_second"] / 1e6
    assert first["direction"] == "main" and first["rtt_ms"] is not None


def test_reverse_has_no_rtt_instead_of_zero():
    r = parse_report(load("iperf3_tcp_reverse_p2.json"))
    assert r.reverse and r.error is None
    assert r.metrics["rtt_mean_ms"] is None and r.metrics["rtt_max_ms"] is None
    assert r.notes and "server" in r.notes[0]
    assert r.metrics["sent_throughput_mbps"] > 0  # type: ignore[operator]


def test_bidir_reports_both_directions():
    doc = load("iperf3_tcp_bidir.json")
    r = parse_report(doc)
    assert r.bidir
    rev = doc["end"]["sum_received_bidir_reverse"]["bits_per_second"] / 1e6
    assert r.metrics["reverse_received_throughput_mbps"] == rev
    assert r.metrics["rtt_mean_ms"] == 1.975
    assert r.metrics["reverse_rtt_mean_ms"] is None  # the 5 µs receiver estimate is not an RTT
    assert {s["direction"] for s in r.samples} == {"main", "reverse"}


@pytest.mark.parametrize("name", ["iperf3_udp.json", "iperf3_udp_reverse.json"])
def test_udp_jitter_and_loss_from_the_receiver(name):
    doc = load(name)
    r = parse_report(doc)
    rx = doc["end"]["sum_received"]
    assert r.protocol == "UDP"
    assert r.metrics["jitter_ms"] == rx["jitter_ms"]
    assert r.metrics["loss_pct"] == rx["lost_percent"]
    assert r.metrics["packets_count"] == rx["packets"]
    assert "retransmits_count" not in r.metrics and "rtt_mean_ms" not in r.metrics


def test_udp_bidir_parallel():
    r = parse_report(load("iperf3_udp_bidir_p2.json"))
    assert r.bidir and r.metrics["reverse_jitter_ms"] is not None
    assert r.metrics["reverse_loss_pct"] == 0


def test_error_sentence_is_iperf3s_own():
    r = parse_report(load("iperf3_error_refused.json"))
    assert r.error == "unable to connect to server: Connection refused"
    assert r.metrics == {} and r.samples == []


def test_missing_end_is_an_error_not_zeros():
    r = parse_report({"start": {}, "intervals": [], "end": {}})
    assert r.error == "iperf3 reported no end results" and r.metrics == {}


def test_rtt_helper_ignores_zero_rtt():
    streams = [{"sender": {"sender": True, "mean_rtt": 0}}]
    assert tcp_rtt_ms(streams, local_sender=True)["mean"] is None


def test_argv_is_a_list_with_every_option():
    opts = IperfOptions(
        target="127.0.0.1", protocol="udp", bidir=True, parallel=3, duration_s=2, omit_s=1,
        bitrate_mbps=12.5, length_bytes=1200, interval_s=0.5, timeout_s=3,
    )  # fmt: skip
    argv = iperf3_argv("/usr/bin/iperf3", "127.0.0.1", 5201, opts)
    assert argv[:5] == ["/usr/bin/iperf3", "-c", "127.0.0.1", "-p", "5201"]
    for flag in ("-J", "-u", "--bidir", "-O", "-b", "-l"):
        assert flag in argv
    assert argv[argv.index("-b") + 1] == "12500000"
    assert argv[argv.index("--connect-timeout") + 1] == "3000"
    assert argv[argv.index("-P") + 1] == "3" and "-R" not in argv
    assert opts.deadline_s == 2 + 1 + 3 + 10


def test_reverse_and_bidir_exclude_each_other():
    with pytest.raises(ValidationError, match="exclude"):
        IperfOptions(target="127.0.0.1", reverse=True, bidir=True)
