"""Accuracy: LibreSpeed-protocol download and upload against the tbf rate."""

from __future__ import annotations

import pytest

from tests.lab.accuracy import ATTEMPTS
from tests.lab.netlab.refstats import second_chance
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.lab
RATE = 20.0


def test_download_and_upload_within_7_percent(lab, lab_server, client_call):
    lab.set_link(0, "up", rate_mbit=RATE)
    lab.set_link(1, "down", rate_mbit=RATE)

    def measure():
        r = client_call(
            run_probe,
            "speedtest",
            {"target": lab_server.base_url + "/", "duration_s": 4, "ping_count": 5},
        )
        assert r.status is Status.OK, r.error
        assert r.info["client_ip"] == lab.client_ip
        figures = {}
        for d in ("download", "upload"):
            goodput = float(r.metrics[f"{d}_goodput_mbps"])
            shown = float(r.metrics[f"{d}_throughput_mbps"])
            figures[d] = (goodput, shown)
            print(
                f"speedtest {d}: goodput {goodput:.2f} ({100 * (goodput / RATE - 1):+.1f} %), "
                f"LibreSpeed figure {shown:.2f} ({100 * (shown / RATE - 1):+.1f} %) vs tbf {RATE}"
            )
        return figures

    def near_rate(figures):
        return all(v == pytest.approx(RATE, rel=0.07) for pair in figures.values() for v in pair)

    # As in test_accuracy_iperf: measured again when the shared CPU starved a sender.
    figures = second_chance(measure, near_rate, ATTEMPTS)[-1]
    for goodput, shown in figures.values():
        assert goodput == pytest.approx(RATE, rel=0.07)
        assert shown == pytest.approx(RATE, rel=0.07)
