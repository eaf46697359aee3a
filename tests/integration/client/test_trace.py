"""The trace probe on loopback: one hop, every mode; reverse names bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.client.schema_check import validate_record
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


@pytest.mark.parametrize("mode", ["icmp", "udp", "tcp"])
def test_loopback_is_one_hop(mode):
    r = run_probe("trace", {"target": "127.0.0.1", "mode": mode, "rounds": 3, "interval_s": 0})
    assert r.status is Status.OK, r.error
    assert r.metrics["hop_count_count"] == 1 and r.metrics["dest_reached_count"] == 1
    assert r.samples and r.samples[0]["address"] == "127.0.0.1"
    assert r.samples[0]["sent_count"] == 3 and r.samples[0]["loss_pct"] == 0.0
    assert r.metrics["dest_rtt_avg_ms"] is not None and r.metrics["dest_rtt_avg_ms"] < 50


def test_reverse_names_are_looked_up_within_the_bound():
    r = run_probe("trace", {"target": "127.0.0.1", "rounds": 1, "resolve_names": True,
                            "name_timeout_s": 2})  # fmt: skip
    assert r.samples and r.samples[0]["name"] == "localhost"
    assert r.duration_s < 5


def test_ipv6_says_so():
    r = run_probe("trace", {"target": "::1", "rounds": 1})
    assert r.status is Status.FAILED and r.error and "IPv4" in r.error


def test_cli_json():
    proc = subprocess.run(
        [WADDLEPERF, "probe", "trace", "127.0.0.1", "--rounds", "2", "--interval", "0", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    validate_record(json.loads(proc.stdout))
