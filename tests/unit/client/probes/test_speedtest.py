"""LibreSpeed's arithmetic on known inputs, getIP parsing, endpoint URLs."""

from __future__ import annotations

import pytest

from waddleperf.probes import librespeed
from waddleperf.probes.speedtest import SpeedtestOptions, endpoint
from waddleperf.probes.targets import parse_url


def test_speed_uses_overhead_factor_and_decimal_megabits():
    # 12.5 MB in 1 s is 100 Mbit/s of payload; LibreSpeed shows 106 with its 1.06 factor.
    assert librespeed.speed_mbps(12_500_000, 1.0) == pytest.approx(106.0)
    assert librespeed.speed_mbps(12_500_000, 1.0, overhead=1.0) == pytest.approx(100.0)
    mib = librespeed.speed_mbps(12_500_000, 1.0, overhead=1.0, mebibits=True)
    assert mib == pytest.approx(100e6 / 1_048_576)
    assert librespeed.speed_mbps(10, 0.0) is None


def test_grace_time_restarts_clock_and_count():
    ticks = [(0.2, 100), (0.4, 300), (0.6, 600), (1.0, 1000), (2.0, 3000)]
    w = librespeed.measured_window(ticks, grace_s=0.5)
    assert w.grace_applied and w.n_bytes == 3000 - 600 and w.seconds == pytest.approx(1.4)


def test_grace_time_kept_when_nothing_arrived_yet():
    ticks = [(0.2, 0), (0.4, 0), (0.6, 0), (1.0, 500)]
    w = librespeed.measured_window(ticks, grace_s=0.5)
    # LibreSpeed resets only once bytes have arrived; 1.0 s is the first such tick.
    assert w.grace_applied and w.n_bytes == 0 and w.seconds == 0.0
    w = librespeed.measured_window([(0.2, 0), (0.4, 0)], grace_s=0.5)
    assert not w.grace_applied and w.n_bytes == 0


def test_ping_and_jitter_like_speedtest_worker():
    # First RTT is warm-up. Then 10, 12, 11, 20: ping = min = 10;
    # jitter: i=2 → |12-10| = 2; i=3 → d=1 < 2 → 0.8·2 + 0.2·1 = 1.8;
    # i=4 → d=9 > 1.8 → 0.3·1.8 + 0.7·9 = 6.84.
    pj = librespeed.ping_jitter([50.0, 10.0, 12.0, 11.0, 20.0])
    assert pj.ping == 10.0 and pj.used == 4
    assert pj.jitter == pytest.approx(6.84)


def test_ping_jitter_clamp_like_a_browser():
    pj = librespeed.ping_jitter([5.0, 0.4, 0.3, 2.0], clamp_below=1.0)
    # 0.4 → 1 (no previous ≥ 1), 0.3 → previous 1; jitter i=2: 0, i=3: d=1 > 0 → 0.7.
    assert pj.ping == 1.0 and pj.jitter == pytest.approx(0.7)


def test_ping_jitter_needs_two_rtts_after_warmup():
    assert librespeed.ping_jitter([]).ping is None
    one = librespeed.ping_jitter([3.0, 2.0])
    assert one.ping == 2.0 and one.jitter is None


@pytest.mark.parametrize(
    ("body", "ip", "isp"),
    [
        ('{"processedString":"127.0.0.1 - localhost IPv4 access","rawIspInfo":""}',
         "127.0.0.1", "localhost IPv4 access"),
        ('{"processedString":"203.0.113.9 - Example ISP, NL (12 km)","rawIspInfo":{}}',
         "203.0.113.9", "Example ISP, NL (12 km)"),
        ("198.51.100.7", "198.51.100.7", None),
    ],
)  # fmt: skip
def test_getip(body, ip, isp):
    info = librespeed.parse_getip(body)
    assert info.ip == ip and info.isp == isp


def test_endpoints_are_relative_to_the_base_directory():
    base = parse_url("http://127.0.0.1:8080/backend/")
    url = endpoint(base, "garbage.php", {"ckSize": "100"})
    assert url.path.startswith("/backend/garbage.php?r=0.") and url.path.endswith("&ckSize=100")
    assert endpoint(parse_url("http://h/x/index.html"), "empty.php").path.startswith(
        "/x/empty.php?r="
    )
    assert endpoint(parse_url("http://h"), "getIP.php").path.startswith("/getIP.php?r=")


def test_defaults_are_librespeeds():
    o = SpeedtestOptions(target="http://127.0.0.1/")
    assert (o.download_streams, o.upload_streams, o.download_grace_s, o.upload_grace_s) == (
        6, 3, 1.5, 3.0
    )  # fmt: skip
    assert o.overhead_factor == 1.06 and o.chunk_mb == 100 and o.upload_blob_mb == 20
    assert o.tests == ["ip", "ping", "download", "upload"]
