"""The icmp probe on loopback, raw and unprivileged, IPv4 and IPv6, beside iputils ping."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.require import require_tool
from waddleperf.probes.base import run_probe
from waddleperf.probes.icmp import PING_GROUP_RANGE
from waddleperf.results.model import Status

root_only = pytest.mark.usefixtures("raw_sockets")


def _ping_avg_ms(host: str) -> float:
    out = subprocess.run(
        ["ping", "-n", "-q", "-c", "20", "-i", "0.01", host],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    match = re.search(r"= [\d.]+/([\d.]+)/", out)
    assert match, out
    return float(match.group(1))


@contextlib.contextmanager
def ping_range(value: str) -> Iterator[None]:
    """Set net.ipv4.ping_group_range for the block, restore it after; a file lock keeps
    parallel test workers from interleaving their changes."""
    path = Path(PING_GROUP_RANGE)
    with open("/tmp/waddleperf-ping-group-range.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text()
        try:
            path.write_text(value + "\n")
            yield
        finally:
            path.write_text(old)


@pytest.fixture
def dgram_allowed() -> Iterator[None]:
    """Let every group open ICMP datagram sockets for the test."""
    if os.geteuid() != 0:
        yield
        return
    with ping_range("0 2147483647"):
        yield


@root_only
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_raw_matches_iputils_ping(host):
    require_tool("ping", "iputils-ping")
    # Both figures are tens of microseconds; one scheduling hiccup on a busy machine moves
    # an average of 20 by more than the bound, so a second pair of runs is allowed.
    for _attempt in range(2):
        r = run_probe("icmp", {"target": host, "count": 20, "interval_s": 0.01, "mode": "raw"})
        assert r.status is Status.OK, r.error
        assert r.info["socket"] == "raw"
        assert r.metrics["received_count"] == 20 and r.metrics["loss_pct"] == 0.0
        assert r.metrics["duplicate_count"] == 0 and r.metrics["reordered_count"] == 0
        ours = r.metrics["rtt_avg_ms"]
        assert isinstance(ours, float) and ours > 0
        theirs = _ping_avg_ms(host)
        if abs(ours - theirs) < 0.5:
            break
    else:
        pytest.fail(f"avg RTT {ours:.3f} ms vs ping {theirs:.3f} ms differ by 0.5 ms or more")
    assert r.samples is not None and len(r.samples) == 20


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_unprivileged_datagram_mode(host, dgram_allowed):
    r = run_probe("icmp", {"target": host, "count": 5, "interval_s": 0.01, "mode": "dgram"})
    assert r.status is Status.OK, r.error
    assert r.info["socket"] == "dgram"
    assert r.metrics["received_count"] == 5


@root_only
def test_two_concurrent_raw_pings_do_not_steal_replies():
    import threading

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                run_probe("icmp", {"target": "127.0.0.1", "count": 20, "interval_s": 0.005})
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.metrics["received_count"] == 20 and r.metrics["duplicate_count"] == 0


def test_icmp_errors_are_reported_in_a_namespace(netns):
    """In a throw-away namespace, nftables rejects our pings with host-unreachable."""
    import json

    require_tool("nft", "nftables")
    rules = (
        "table inet t {\n chain out {\n  type filter hook output priority 0;\n"
        "  ip daddr 127.0.0.2 icmp type echo-request reject with icmp type host-unreachable\n"
        " }\n}\n"
    )
    assert netns.run("nft", "-f", "-", stdin=rules).returncode == 0
    proc = netns.probe(
        "icmp", "127.0.0.2", "--count", "3", "--interval", "0.01", "--timeout", "0.3", "--json"
    )
    assert proc.returncode == 1, proc.stderr
    record = json.loads(proc.stdout)
    assert record["metrics"]["icmp_error_count"] == 3
    assert "destination unreachable" in record["error"]


def _as_nobody(*args: str):
    import sys

    waddleperf = str(Path(sys.executable).parent / "waddleperf")
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", waddleperf, "probe"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=30)


@root_only
def test_auto_mode_without_root_uses_dgram_or_explains_the_range():
    import json

    require_tool("setpriv", "util-linux")
    with ping_range("1 0"):  # nobody may open ICMP datagram sockets
        proc = _as_nobody("icmp", "127.0.0.1", "--count", "2", "--interval", "0.01", "--json")
    assert proc.returncode == 1, proc.stderr
    assert "ping_group_range" in json.loads(proc.stdout)["error"]
    with ping_range("65534 65534"):
        proc = _as_nobody("icmp", "127.0.0.1", "--count", "2", "--interval", "0.01", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["info"]["socket"] == "dgram"


def _echo_requests_out(netns, version: int) -> int:
    """The namespace kernel's count of ICMP(v6) echo requests sent (/proc/net/snmp, snmp6)."""
    if version == 4:
        lines = [
            line.split()
            for line in netns.run("cat", "/proc/net/snmp").stdout.splitlines()
            if line.startswith("IcmpMsg:")
        ]
        if not lines:  # no ICMP message sent or received in this namespace yet
            return 0
        return int(dict(zip(lines[0][1:], lines[1][1:], strict=True)).get("OutType8", 0))
    for line in netns.run("cat", "/proc/net/snmp6").stdout.splitlines():
        if line.startswith("Icmp6OutEchos"):
            return int(line.split()[1])
    raise AssertionError("no Icmp6OutEchos in /proc/net/snmp6")


@pytest.mark.parametrize("mode", ["raw", "dgram"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_warm_up_before_each_send_sends_nothing(netns, host, mode):
    """Each request is preceded by a send the kernel refuses (MSG_OOB), to warm the send
    path before the RTT's start is taken: the namespace's kernel counts exactly ``count``
    echo requests out, and every one was answered once."""
    import json

    # ping_group_range is per namespace: widening it here touches nothing outside
    assert netns.run("sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647").returncode == 0
    version = 6 if ":" in host else 4
    before = _echo_requests_out(netns, version)
    proc = netns.probe("icmp", host, "--count", "7", "--interval", "0.01", "--mode", mode, "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["info"]["socket"] == mode
    assert record["metrics"]["received_count"] == 7 and record["metrics"]["duplicate_count"] == 0
    assert _echo_requests_out(netns, version) - before == 7
