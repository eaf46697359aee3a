"""The mtu probe on loopback (v4, v6), its CLI, and no route / no answer in our own netns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.schemas import validate_record
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.usefixtures("raw_sockets")


def lo_mtu() -> int:
    with open("/sys/class/net/lo/mtu", encoding="ascii") as fh:
        return int(fh.read())


@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
def test_loopback_path_mtu_is_the_lo_mtu(target):
    r = run_probe("mtu", {"target": target})
    assert r.status is Status.OK, r.error
    assert r.metrics["path_mtu_bytes"] == lo_mtu()
    assert r.metrics["interface_mtu_bytes"] == lo_mtu() and r.info["interface"] == "lo"
    assert r.metrics["probes_count"] == 2  # the minimum, then the interface MTU: both fit


def test_search_cap_is_honoured():
    r = run_probe("mtu", {"target": "127.0.0.1", "max_mtu_bytes": 9000})
    assert r.status is Status.OK and r.metrics["path_mtu_bytes"] == 9000


def test_unanswered_host_is_failed(netns):
    # Inside an empty namespace nothing answers 127.0.0.2? Loopback does; use a blackholed route.
    proc = netns.run("ip", "route", "add", "blackhole", "10.9.9.9/32")
    assert proc.returncode == 0, proc.stderr
    code = (
        "from waddleperf.probes.base import run_probe;"
        "r = run_probe('mtu', {'target': '10.9.9.9', 'timeout_s': 0.2, 'attempts': 1});"
        "print(r.status.value, '|', r.error)"
    )
    import sys

    out = netns.run(sys.executable, "-c", code)
    assert out.stdout.startswith("failed"), out.stdout + out.stderr


def test_cli_json_and_usage_errors():
    cli = str(Path(sys.executable).parent / "waddleperf")
    proc = subprocess.run([cli, "probe", "mtu", "127.0.0.1", "--json"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["metrics"]["path_mtu_bytes"] == lo_mtu()
    usage = subprocess.run([cli, "probe", "mtu", "127.0.0.1", "--rounds", "3"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert usage.returncode == 2 and "--rounds does not apply to probe mtu" in usage.stderr
