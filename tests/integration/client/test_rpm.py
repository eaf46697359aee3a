"""The rpm probe against the server's responsiveness endpoints on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port
from tests.unit.client.schema_check import validate_record
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
QUICK = {"duration_s": 1.5, "warmup_s": 0.5, "idle_probes": 5, "parallel": 2}


def test_idle_and_loaded_latency_and_rpm(server):
    r = run_probe("rpm", {"target": server.base_url, **QUICK})
    assert r.status is Status.OK, r.error
    m = r.metrics
    assert m["idle_latency_ms"] is not None and m["idle_latency_ms"] > 0
    for d in ("download", "upload"):
        assert m[f"{d}_loaded_latency_ms"] is not None
        assert m[f"{d}_responsiveness_rpm"] is not None and m[f"{d}_responsiveness_rpm"] > 0  # type: ignore[operator]
        assert (m[f"{d}_throughput_mbps"] or 0) > 0
        assert m[f"{d}_self_rtt_ms"] is not None  # TCP_INFO of the load connections
    assert m["responsiveness_rpm"] == round(60_000 / float(m["loaded_latency_ms"] or 1), 1)
    assert r.info["bufferbloat_grade"] in {"A+", "A", "B", "C", "D", "F"}
    kinds = {(s["phase"], s["kind"]) for s in r.samples or []}
    assert ("idle", "foreign") in kinds and ("upload", "self") in kinds


def test_iperf_load(server):
    r = run_probe(
        "rpm",
        {"target": server.base_url, **QUICK, "load": "iperf", "iperf_port": server.iperf_port,
         "directions": ["download"]},
    )  # fmt: skip
    assert r.status in (Status.OK, Status.DEGRADED), r.error
    assert r.metrics["download_loaded_latency_ms"] is not None
    assert r.metrics["download_self_rtt_ms"] is None and r.error and "self" in r.error


def test_no_server_is_failed():
    r = run_probe("rpm", {"target": f"http://127.0.0.1:{free_port()}/", "timeout_s": 1})
    assert r.status is Status.FAILED and r.error and "configuration" in r.error


def test_cli_json(server):
    proc = subprocess.run(
        [WADDLEPERF, "probe", "rpm", server.base_url, "--duration", "1", "--parallel", "2",
         "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    validate_record(json.loads(proc.stdout))
