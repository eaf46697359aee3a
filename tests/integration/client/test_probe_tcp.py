"""The tcp probe against listeners this test opens on loopback."""

from __future__ import annotations

import socket

from tests.support.net import free_port
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status


def test_connects_to_a_listener_v4_and_v6():
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as srv:
            srv.bind((host, 0))
            srv.listen(64)
            port = srv.getsockname()[1]
            target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            r = run_probe("tcp", {"target": target, "count": 5, "interval_s": 0})
        assert r.status is Status.OK, r.error
        assert r.metrics["ok_count"] == 5 and r.metrics["failure_pct"] == 0.0
        assert r.metrics["connect_avg_ms"] is not None and r.metrics["connect_avg_ms"] > 0


def test_refused_is_counted_as_refused():
    r = run_probe("tcp", {"target": "127.0.0.1", "port": free_port(), "count": 3, "interval_s": 0})
    assert r.status is Status.FAILED
    assert r.metrics["refused_count"] == 3 and r.metrics["connect_avg_ms"] is None
    assert r.error and "refused" in r.error
    assert r.samples and r.samples[0]["errno"] == "ECONNREFUSED"


def test_timeout_when_the_accept_queue_is_full():
    # A listener that never accepts, with a full queue: Linux drops further SYNs silently.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
                fillers.append(c)
            r = run_probe("tcp", {"target": f"127.0.0.1:{port}", "count": 1, "timeout_s": 0.3})
        finally:
            for c in fillers:
                c.close()
    assert r.status is Status.FAILED
    assert r.metrics["timeout_count"] == 1, r.samples
    assert r.error and "no answer within 0.3 s" in r.error


def test_unreachable_is_told_apart(netns):
    """A route of type unreachable answers connect() with EHOSTUNREACH, inside our namespace."""
    import json

    assert netns.run("ip", "route", "add", "unreachable", "10.99.0.0/24").returncode == 0
    proc = netns.probe("tcp", "10.99.0.1:80", "--count", "2", "--interval", "0", "--json")
    assert proc.returncode == 1, proc.stderr
    record = json.loads(proc.stdout)
    assert record["metrics"]["unreachable_count"] == 2
    assert "2 unreachable (no route to host (EHOSTUNREACH))" in record["error"]
