"""Accuracy: the iperf probe's throughput against the tbf rate, both directions."""

from __future__ import annotations

import pytest

from tests.lab.accuracy import ATTEMPTS
from tests.lab.netlab.refstats import second_chance
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.lab
RATE = 20.0


@pytest.mark.parametrize("direction", ["up", "down"])
def test_throughput_within_7_percent_of_the_rate(lab, lab_server, client_call, direction):
    link = 0 if direction == "up" else 1
    lab.set_link(link, direction, rate_mbit=RATE)

    def measure():
        r = client_call(
            run_probe,
            "iperf",
            {"target": lab.server_ip, "port": lab_server.iperf_port, "duration_s": 3,
             "omit_s": 1, "reverse": direction == "down"},
        )  # fmt: skip
        assert r.status is Status.OK, r.error
        mbps = float(r.metrics["received_throughput_mbps"])
        print(
            f"iperf {direction}: {mbps:.2f} Mbit/s vs tbf {RATE} ({100 * (mbps / RATE - 1):+.1f} %)"
        )
        return mbps

    # Two cores shared with other test runs: a sender starved for tens of ms leaves the
    # 20 Mbit/s link idle (its send buffer is only a few BDPs), so a run that misses is measured
    # again and every run is printed.
    seen = second_chance(measure, lambda mbps: mbps == pytest.approx(RATE, rel=0.07), ATTEMPTS)
    assert seen[-1] == pytest.approx(RATE, rel=0.07), seen
