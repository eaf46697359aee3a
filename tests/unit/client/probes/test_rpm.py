"""RPM aggregation, bufferbloat grades and TCP_INFO parsing on known inputs."""

from __future__ import annotations

import struct

import pytest

from waddleperf.probes import bufferbloat
from waddleperf.probes.httpload import TCPI_RCV_RTT_OFFSET, TCPI_RTT_OFFSET, tcp_info_rtts_us
from waddleperf.probes.rpm_load import TCPI_BYTES_ACKED_OFFSET, AckedCounter, tcp_info_bytes_acked


def test_trimmed_mean_drops_the_slowest_tenth():
    values = [float(v) for v in range(1, 11)]  # p90 nearest rank = 9 → mean(1..9) = 5
    assert bufferbloat.trimmed_mean(values, 90) == 5.0
    assert bufferbloat.trimmed_mean(values, 100) == 5.5
    assert bufferbloat.trimmed_mean([], 90) is None
    assert bufferbloat.trimmed_mean([10.0] * 9 + [1000.0]) == 10.0  # one outlier gone


def test_probe_latency_weights_foreign_and_self():
    assert bufferbloat.probe_latency_ms([10.0], [30.0], [60.0]) == pytest.approx(40.0)
    assert bufferbloat.probe_latency_ms([10.0], [30.0], []) == pytest.approx(20.0)
    assert bufferbloat.probe_latency_ms([], [30.0], [60.0]) is None


def test_rpm_is_round_trips_per_minute():
    assert bufferbloat.rpm(100.0) == 600.0
    assert bufferbloat.rpm(None) is None and bufferbloat.rpm(0.0) is None


@pytest.mark.parametrize(
    ("increase", "grade"),
    [(0.0, "A+"), (4.99, "A+"), (5.0, "A"), (29.9, "A"), (30.0, "B"), (59.0, "B"), (60.0, "C"),
     (199.0, "C"), (200.0, "D"), (399.0, "D"), (400.0, "F"), (5000.0, "F"), (-3.0, "A+"),
     (None, None)],
)  # fmt: skip
def test_grade_table(increase, grade):
    assert bufferbloat.grade(increase) == grade


def test_tcp_info_rtts():
    info = bytearray(104)
    struct.pack_into("=I", info, TCPI_RTT_OFFSET, 12_345)
    struct.pack_into("=I", info, TCPI_RCV_RTT_OFFSET, 0)
    assert tcp_info_rtts_us(bytes(info)) == (12_345, None)  # 0 = no estimate, not 0 µs
    assert tcp_info_rtts_us(b"\x00" * 40) == (None, None)


def test_tcp_info_bytes_acked():
    info = bytearray(232)
    struct.pack_into("=Q", info, TCPI_BYTES_ACKED_OFFSET, 5_000_000_000)
    assert tcp_info_bytes_acked(bytes(info)) == 5_000_000_000
    assert tcp_info_bytes_acked(bytes(info[:104])) is None  # an old kernel's shorter struct


def test_acked_counter_sums_growth_across_reconnects():
    c = AckedCounter()
    c.see(1, 10, 1000)  # first sight: everything it acked counts
    c.see(1, 10, 1500)
    c.see(2, 20, 300)
    assert c.total == 1800
    c.see(1, 11, 200)  # worker 1 reconnected: the new socket counts from zero
    c.see(1, 11, 150)  # a smaller count can only be another new connection
    assert c.total == 1800 + 200 + 150
