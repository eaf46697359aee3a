"""The iperf probe against the server's supervised iperf3, with iperf3 -c run beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.schemas import validate_record
from waddleperf.localstack import LocalServer
from waddleperf.probes.base import run_probe
from waddleperf.probes.iperf import run_bounded
from waddleperf.results.model import Result, Status

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


def iperf(server: LocalServer, **kw: object) -> Result:
    # The server's iperf3 serves one test at a time; a just-finished one may still be closing.
    for _ in range(20):
        r = run_probe("iperf", {"target": "127.0.0.1", "port": server.iperf_port, **kw})
        if r.status is Status.OK or "busy" not in (r.error or ""):
            return r
        time.sleep(0.25)
    return r


def reference_mbps(server: LocalServer, *extra: str) -> float:
    for _ in range(20):
        out = subprocess.run(
            ["iperf3", "-c", "127.0.0.1", "-p", str(server.iperf_port), "-J", "-t", "2", *extra],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        doc = json.loads(out.stdout)
        if "busy" not in doc.get("error", ""):
            break
        time.sleep(0.25)
    assert "error" not in doc, doc.get("error")
    return float(doc["end"]["sum_received"]["bits_per_second"]) / 1e6


def test_tcp_matches_its_raw_json_and_a_reference_run(server):
    r = iperf(server, duration_s=2)
    assert r.status is Status.OK, r.error
    assert isinstance(r.raw, dict)
    end = r.raw["end"]
    assert r.metrics["sent_throughput_mbps"] == end["sum_sent"]["bits_per_second"] / 1e6
    assert r.metrics["received_throughput_mbps"] == end["sum_received"]["bits_per_second"] / 1e6
    assert r.metrics["rtt_mean_ms"] is not None and r.metrics["rtt_mean_ms"] > 0
    assert r.samples and len(r.samples) >= 2
    ours = float(r.metrics["received_throughput_mbps"] or 0)
    ref = reference_mbps(server)
    # Same binary, same loopback, a moment apart: the same order of magnitude (other tests
    # share these two cores, so closer agreement would be luck, not a property).
    assert ref / 4 < ours < ref * 4, (ours, ref)


def test_udp_at_a_set_bitrate(server):
    r = iperf(server, protocol="udp", bitrate_mbps=40, duration_s=2)
    assert r.status is Status.OK, r.error
    assert r.metrics["sent_throughput_mbps"] == pytest.approx(40, rel=0.1)
    assert r.metrics["jitter_ms"] is not None and r.metrics["loss_pct"] is not None
    # Loss on a busy 2-core box is real loss (receive buffer overruns); it must be iperf3's.
    assert isinstance(r.raw, dict)
    assert r.metrics["loss_pct"] == r.raw["end"]["sum_received"]["lost_percent"]


def test_reverse_and_bidir(server):
    rev = iperf(server, reverse=True, duration_s=1, parallel=2)
    assert rev.status is Status.OK and rev.info["reverse"] is True
    assert rev.metrics["rtt_mean_ms"] is None and rev.error and "RTT" in rev.error
    assert (rev.metrics["received_throughput_mbps"] or 0) > 0
    both = iperf(server, bidir=True, duration_s=1)
    assert both.status is Status.OK, both.error
    assert (both.metrics["reverse_received_throughput_mbps"] or 0) > 0
    assert (both.metrics["received_throughput_mbps"] or 0) > 0


def test_refused_is_failed_with_iperf3s_sentence():
    r = run_probe("iperf", {"target": "127.0.0.1", "port": free_port(), "duration_s": 1})
    assert r.status is Status.FAILED
    assert r.error == "Iperf3: Unable to connect to server: Connection refused."
    assert isinstance(r.raw, dict) and "error" in r.raw


def test_bounded_child_is_killed_on_timeout():
    start = time.monotonic()
    outcome = run_bounded(["sleep", "30"], 0.5)
    assert outcome.timed_out and outcome.returncode is None
    assert time.monotonic() - start < 5


def test_cli_json_exit_codes(server):
    for _ in range(20):
        proc = subprocess.run(
            [WADDLEPERF, "probe", "iperf", "127.0.0.1", "--port", str(server.iperf_port),
             "--duration", "1", "--json"],
            capture_output=True, text=True, timeout=60, env={**os.environ},
        )  # fmt: skip
        if "busy" not in proc.stdout:
            break
        time.sleep(0.25)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["kind"] == "probe.iperf"
    bad = subprocess.run(
        [WADDLEPERF, "probe", "iperf", "127.0.0.1", "--port", str(free_port()), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and json.loads(bad.stdout)["status"] == "failed"
    usage = subprocess.run(
        [WADDLEPERF, "probe", "iperf", "127.0.0.1", "--reverse", "--bidir"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert usage.returncode == 2 and "exclude" in usage.stderr


def test_interrupted_run_leaves_no_child(monkeypatch):
    seen: list[int] = []
    real = subprocess.Popen.communicate

    def interrupted(self, *args, **kwargs):  # Ctrl-C while waiting for iperf3
        seen.append(self.pid)
        monkeypatch.setattr(subprocess.Popen, "communicate", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_bounded(["sleep", "30"], 60)
    assert seen
    with pytest.raises(ProcessLookupError):
        os.kill(seen[0], 0)  # killed and reaped, not a zombie or an orphan
