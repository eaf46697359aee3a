"""Accuracy: responsiveness is clearly worse behind a large tbf queue than behind a small one."""

from __future__ import annotations

import pytest

from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.lab
RATE = 20.0


def test_large_buffer_means_lower_rpm(lab, lab_server, client_call):
    results = {}
    for queue_bytes in (250_000, 15_000):  # 100 ms and 6 ms of queue at 20 Mbit/s
        lab.set_link(0, "up", rate_mbit=RATE, queue_bytes=queue_bytes)
        lab.set_link(1, "down", rate_mbit=RATE, queue_bytes=queue_bytes)
        r = client_call(
            run_probe,
            "rpm",
            {"target": lab_server.base_url, "duration_s": 3, "warmup_s": 1.5, "parallel": 4,
             "idle_probes": 5},
        )  # fmt: skip
        assert r.status is Status.OK, r.error
        results[queue_bytes] = r
        m = r.metrics
        print(
            f"rpm queue {queue_bytes} B: idle {m['idle_latency_ms']:.1f} ms, "
            f"down {m['download_loaded_latency_ms']:.1f} ms, up {m['upload_loaded_latency_ms']:.1f}"
            f" ms, RPM {m['responsiveness_rpm']}, grade {r.info['bufferbloat_grade']}"
        )
    big, small = results[250_000].metrics, results[15_000].metrics
    assert float(big["responsiveness_rpm"]) < float(small["responsiveness_rpm"]) / 2
    # TCP here is BBR, which keeps queues short, so the big buffer never fills to its 100 ms;
    # still, the latency added under load must be several times larger behind it.
    big_up, small_up = float(big["latency_increase_ms"]), float(small["latency_increase_ms"])
    assert big_up > 3 * small_up and big_up > 10
    grades = ["A+", "A", "B", "C", "D", "F"]
    big_grade = grades.index(str(results[250_000].info["bufferbloat_grade"]))
    assert big_grade > grades.index(str(results[15_000].info["bufferbloat_grade"]))
