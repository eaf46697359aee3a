"""The trace probe on loopback: one hop, every mode; reverse names bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.require import require_tool
from tests.support.schemas import validate_record
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
pytestmark = pytest.mark.usefixtures("raw_sockets")


@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("mode", ["icmp", "udp", "tcp"])
def test_loopback_is_one_hop(mode, target):
    r = run_probe("trace", {"target": target, "mode": mode, "rounds": 3, "interval_s": 0})
    assert r.status is Status.OK, r.error
    assert r.metrics["hops_count"] == 1 and r.metrics["dest_reached_count"] == 1
    assert r.samples and r.samples[0]["address"] == target
    assert r.samples[0]["sent_count"] == 3 and r.samples[0]["loss_pct"] == 0.0
    assert r.metrics["dest_rtt_avg_ms"] is not None and r.metrics["dest_rtt_avg_ms"] < 50


def test_reverse_names_are_looked_up_within_the_bound():
    r = run_probe("trace", {"target": "127.0.0.1", "rounds": 1, "resolve_names": True,
                            "name_timeout_s": 2})  # fmt: skip
    assert r.samples and r.samples[0]["name"] == "localhost"
    assert r.duration_s < 5


def test_no_route_is_failed_with_the_reason(netns):
    assert netns.run("ip", "route", "add", "blackhole", "10.9.9.9/32").returncode == 0
    code = (
        "from waddleperf.probes.base import run_probe;"
        "r = run_probe('trace', {'target': '10.9.9.9', 'rounds': 1});"
        "print(r.status.value, '|', r.error)"
    )
    out = netns.run(sys.executable, "-c", code)
    assert out.stdout.startswith("failed | No usable route to 10.9.9.9"), out.stdout + out.stderr


def test_cli_json():
    proc = subprocess.run(
        [WADDLEPERF, "probe", "trace", "127.0.0.1", "--rounds", "2", "--interval", "0", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    validate_record(json.loads(proc.stdout))


def test_cli_usage_errors_exit_2():
    for args in (["--rounds", "0"], ["--max-hops", "65"], ["--mode", "sctp"]):
        proc = subprocess.run([WADDLEPERF, "probe", "trace", "127.0.0.1", *args],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2, (args, proc.stderr)
        assert args[0] in proc.stderr


def test_without_privileges_the_error_says_what_is_needed():
    require_tool("setpriv", "util-linux")
    code = (
        "from waddleperf.probes.base import run_probe\n"
        "for kind in ('trace', 'mtu'):\n"
        "    r = run_probe(kind, {'target': '127.0.0.1'})\n"
        "    print(kind, r.status.value, r.error)\n"
    )
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
         code],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stderr
    for line in lines:
        assert " failed " in line and "CAP_NET_RAW" in line, line
