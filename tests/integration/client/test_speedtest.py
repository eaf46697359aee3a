"""The speedtest probe against the server's LibreSpeed backend on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.schemas import validate_record
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
QUICK = {"duration_s": 1.5, "download_grace_s": 0.4, "upload_grace_s": 0.6, "chunk_mb": 8,
         "upload_blob_mb": 4, "ping_count": 5}  # fmt: skip


def test_download_upload_ping_and_client_ip(server):
    r = run_probe("speedtest", {"target": server.base_url + "/", **QUICK})
    assert r.status is Status.OK, r.error
    m = r.metrics
    for d in ("download", "upload"):
        assert m[f"{d}_bytes"] > 0 and m[f"{d}_measured_s"] >= 1.5  # type: ignore[operator]
        goodput = float(m[f"{d}_goodput_mbps"] or 0)
        assert 10 < goodput < 200_000  # loopback: far above 10 Mbit/s, below 200 Gbit/s
        assert m[f"{d}_throughput_mbps"] == pytest.approx(goodput * 1.06)
    assert m["ping_ms"] is not None and 0 < m["ping_ms"] < 100
    assert m["jitter_ms"] is not None and m["ping_lost_count"] == 0
    assert r.info["client_ip"] == "127.0.0.1"
    assert r.info["isp"] == "localhost IPv4 access"
    phases = {s["phase"] for s in r.samples or []}
    assert phases == {"ping", "download", "upload"}


def test_backend_path_and_subset_of_tests(server):
    r = run_probe("speedtest", {"target": server.base_url + "/backend/", "tests": ["ip"]})
    assert r.status is Status.OK and r.info["client_ip"] == "127.0.0.1"
    assert r.metrics == {}


def test_nothing_listening_is_failed():
    r = run_probe("speedtest", {"target": f"http://127.0.0.1:{free_port()}/", **QUICK,
                                "timeout_s": 2})  # fmt: skip
    assert r.status is Status.FAILED
    assert r.error and "refused" in r.error
    assert r.metrics["download_throughput_mbps"] is None  # never a silent zero


def test_cli_json(server):
    proc = subprocess.run(
        [WADDLEPERF, "probe", "speedtest", server.base_url + "/", "--duration", "1", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["kind"] == "probe.speedtest"


def test_streams_stop_promptly_mid_transfer(server):
    from waddleperf.probes.httpload import TransferStreams
    from waddleperf.probes.targets import parse_url

    url = parse_url(server.base_url + "/garbage.php?ckSize=1024")
    streams = TransferStreams(lambda: url, "download", 4, timeout_s=5)
    streams.start()
    deadline = time.monotonic() + 5
    while streams.total_bytes() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streams.total_bytes() > 0
    start = time.monotonic()
    streams.stop()
    assert time.monotonic() - start < 1.0 and streams.all_stopped()
    moved = streams.total_bytes()
    time.sleep(0.3)
    assert streams.total_bytes() == moved  # nothing runs on after stop


def test_wrong_base_path_is_failed_not_a_speed(server):
    r = run_probe("speedtest", {"target": server.base_url + "/nothing/here/", **QUICK})
    assert r.status is Status.FAILED, r.error
    assert r.error and "404" in r.error
    assert r.metrics["download_throughput_mbps"] is None
    assert r.metrics["upload_throughput_mbps"] is None  # bytes sent to a 404 are no speed


def test_https_backend(https_server):
    opts = {**QUICK, "tests": ["ping", "download"], "download_streams": 2}
    r = run_probe("speedtest", {"target": https_server.url, **opts, "insecure": True})
    assert r.status is Status.OK, r.error
    assert (r.metrics["download_bytes"] or 0) > 0 and r.metrics["ping_ms"] is not None
    strict = run_probe("speedtest", {"target": https_server.url, **opts, "timeout_s": 2})
    assert strict.status is Status.FAILED and strict.error and "certificate" in strict.error
