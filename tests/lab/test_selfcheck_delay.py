"""Self-check: iputils ping sees exactly the delay the lab injects (within 1 ms)."""

from __future__ import annotations

import pytest

from tests.lab.netlab.refstats import parse_ping

pytestmark = pytest.mark.lab
TOLERANCE_MS = 1.0


def ping(lab, target: str, count: int = 200, interval: str = "0.01"):
    out = lab.client.ns.run(["ping", "-n", "-q", "-c", str(count), "-i", interval, target])
    return parse_ping(out.stdout)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_ping_rtt_equals_injected_delay(lab, family):
    target = lab.server_ip if family == "ipv4" else lab.server_ip6
    lab.set_link(0, "up", delay_ms=20)
    lab.set_link(0, "down", delay_ms=20)
    summary = ping(lab, target)
    assert summary.received == summary.transmitted
    assert summary.rtt_avg_ms == pytest.approx(40.0, abs=TOLERANCE_MS)
    assert summary.rtt_min_ms is not None and summary.rtt_min_ms >= 40.0
    stats = lab.delayers[1].stats()["tuns"]
    for tun in ("dly-up", "dly-dn"):
        # The delayer's own error against each packet's release time.
        assert stats[tun]["late_p50_ms"] <= 0.2, stats
        assert stats[tun]["late_mean_ms"] < 0.5, stats


@pytest.mark.parametrize("lab", [3], indirect=True)
def test_delays_on_several_links_add_up(lab):
    lab.set_link(0, "up", delay_ms=5)
    lab.set_link(1, "down", delay_ms=7)
    lab.set_link(3, "up", delay_ms=3)
    lab.set_link(3, "down", delay_ms=10)
    summary = ping(lab, lab.server_ip)
    assert summary.rtt_avg_ms == pytest.approx(25.0, abs=TOLERANCE_MS)


def test_delay_changes_while_running(lab):
    lab.set_link(1, "both", delay_ms=10)
    first = ping(lab, lab.server_ip, count=50)
    lab.set_link(1, "both", delay_ms=2)
    second = ping(lab, lab.server_ip, count=50)
    lab.set_link(1, "both", delay_ms=0)
    third = ping(lab, lab.server_ip, count=50)
    assert first.rtt_avg_ms == pytest.approx(20.0, abs=TOLERANCE_MS)
    assert second.rtt_avg_ms == pytest.approx(4.0, abs=TOLERANCE_MS)
    assert third.rtt_avg_ms is not None and third.rtt_avg_ms < 1.0


def test_jitter_spreads_rtt_around_the_delay(lab):
    lab.set_link(0, "up", delay_ms=20, jitter_ms=5)
    # 50 ms between pings: far apart, so keeping order never holds one back behind another.
    summary = ping(lab, lab.server_ip, count=100, interval="0.05")
    assert summary.rtt_avg_ms == pytest.approx(20.0, abs=TOLERANCE_MS), summary
    assert summary.rtt_min_ms is not None and summary.rtt_max_ms is not None
    assert 15.0 <= summary.rtt_min_ms < 17.0
    # The max is one sample: it also carries scheduling noise of the whole path.
    assert 23.0 < summary.rtt_max_ms <= 27.0
    assert summary.rtt_mdev_ms is not None
    # Uniform ±5 ms has a standard deviation of 5/√3 ≈ 2.89 ms.
    assert summary.rtt_mdev_ms == pytest.approx(2.89, abs=0.6)
