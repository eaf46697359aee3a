"""The rpm probe against the server's responsiveness endpoints on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port
from tests.support.schemas import validate_record
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


DRAFT = {"mode": "draft", "idle_probes": 3, "stability_interval_s": 0.3, "max_duration_s": 3,
         "parallel": 2, "add_parallel": 2, "max_parallel": 6}  # fmt: skip


def test_draft_mode_ramps_up_and_reports_stability(server):
    r = run_probe("rpm", {"target": server.base_url, **DRAFT})
    assert r.status is Status.OK, r.error
    m, info = r.metrics, r.info
    assert info["mode"] == "draft"
    intervals = [s for s in r.samples or [] if s["kind"] == "interval"]
    for d in ("download", "upload"):
        mine = [s for s in intervals if s["phase"] == d]
        assert len(mine) == m[f"{d}_intervals_count"] and 1 <= len(mine) <= 3 / 0.3 + 1
        assert [s["index"] for s in mine] == list(range(len(mine)))
        loaded_s = m[f"{d}_loaded_duration_s"]
        assert loaded_s is not None and 0 < loaded_s <= 3 + 5 + 1  # MTD + one probe timeout
        conns = [int(str(s["connections"])) for s in mine]
        assert conns[0] == 2 and all(c <= 6 for c in conns) and conns == sorted(conns)
        assert m[f"{d}_load_connections_count"] == conns[-1]
        assert (m[f"{d}_throughput_mbps"] or 0) > 0
        assert m[f"{d}_responsiveness_rpm"] is not None and m[f"{d}_self_rtt_ms"] is not None
        assert info[f"{d}_rpm_confidence"] in {"high", "medium", "low"}
        stable = bool(info[f"{d}_goodput_stable"]) and bool(info[f"{d}_rpm_stable"])
        assert stable == (info[f"{d}_rpm_confidence"] == "high")
        if not stable:  # said, not hidden
            assert r.error and d in r.error.lower() and "not stable" in r.error
    assert m["responsiveness_rpm"] == round(60_000 / float(m["loaded_latency_ms"] or 1), 1)
    validate_record(json.loads(r.model_dump_json()))
