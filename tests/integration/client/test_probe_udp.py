"""The udp probe against the real server's UDP echo, and against a lossy echo of our own."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.net import free_port, udp_stub
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status
from waddleperf_common import udp_wire

KEY = "waddle-test-key"


def test_against_the_server_echo(shared_server):
    r = run_probe(
        "udp",
        {"target": f"127.0.0.1:{shared_server.udp_echo_port}", "count": 20, "interval_s": 0.005},
    )
    assert r.status is Status.OK, r.error
    assert r.metrics["received_count"] == 20 and r.metrics["loss_pct"] == 0.0
    assert r.metrics["rtt_avg_ms"] is not None and 0 < r.metrics["rtt_avg_ms"] < 50
    assert r.metrics["jitter_ms"] is not None and r.metrics["jitter_fwd_ms"] is not None
    assert r.info["receive_timestamps"] == "kernel"  # SO_TIMESTAMPNS on Linux


def test_hmac_with_a_keyed_server(server_factory, monkeypatch):
    srv = server_factory(services=("udp_echo",), env={"WADDLEPERF_UDP_KEY": KEY})
    monkeypatch.setenv("PROBE_KEY", KEY)
    base = {"target": f"127.0.0.1:{srv.udp_echo_port}", "count": 5, "interval_s": 0.005}
    r = run_probe("udp", {**base, "key_env": "PROBE_KEY"})
    assert r.status is Status.OK, r.error
    assert r.info["hmac"] is True
    monkeypatch.setenv("PROBE_KEY", "wrong")
    r = run_probe("udp", {**base, "key_env": "PROBE_KEY", "timeout_s": 0.3})
    assert r.status is Status.FAILED


@pytest.fixture
def lossy_echo() -> Iterator[int]:
    """An echo on loopback that drops seq 3, answers seq 5 twice and holds seq 6 back."""
    held: list[bytes] = []

    def answer(sock: socket.socket, data: bytes, addr: Any) -> None:
        if udp_wire.is_tally_query(data):  # it has no rate limit: nothing of its loss is one
            sock.sendto(udp_wire.make_tally_reply(data, 0), addr)
            return
        seq = udp_wire.decode(data).seq
        reply = udp_wire.make_reply(data, time.time_ns())
        if seq == 3:
            return
        if seq == 6:
            held.append(reply)
            return
        sock.sendto(reply, addr)
        if seq == 5:
            sock.sendto(reply, addr)
        if held and seq == 7:
            sock.sendto(held[-1], addr)

    yield from udp_stub(answer)


def test_loss_duplicates_reordering(lossy_echo):
    r = run_probe(
        "udp",
        {"target": "127.0.0.1", "port": lossy_echo, "count": 10, "interval_s": 0.01,
         "timeout_s": 0.5},
    )  # fmt: skip
    assert r.status is Status.DEGRADED
    m = r.metrics
    assert (m["lost_count"], m["duplicate_count"], m["reordered_count"]) == (1, 1, 1)
    assert m["loss_pct"] == 10.0
    assert r.error == "1 of 10 datagrams got no reply."  # the server: no rate-limit drop
    assert m["lost_rate_limited_count"] == 0 and r.info["rate_drop_query"] == "answered"


def _old_server(sock: socket.socket, data: bytes, addr: Any) -> None:
    plain = data[:5] + bytes([data[5] & ~udp_wire.FLAG_TALLY]) + data[6:]
    if udp_wire.decode(plain).seq != 0:
        sock.sendto(udp_wire.make_reply(plain, time.time_ns()), addr)


@pytest.fixture
def old_server() -> Iterator[int]:
    """An echo from before the rate-drop query: it drops seq 0 and echoes everything else,
    the query too (its flag cleared, as such a server's reply builder does)."""
    yield from udp_stub(_old_server)


def test_a_server_without_the_rate_drop_query_leaves_the_cause_open(old_server: int) -> None:
    r = run_probe("udp", {"target": "127.0.0.1", "port": old_server, "count": 3,
                          "interval_s": 0.01, "timeout_s": 0.3})  # fmt: skip
    assert r.status is Status.DEGRADED
    assert r.metrics["lost_count"] == 1 and r.metrics["lost_rate_limited_count"] is None
    assert r.info["rate_drop_query"] == "unsupported"
    assert r.error == (
        "1 of 3 datagrams got no reply; the server does not report rate-limit drops "
        "(it predates the query)."
    )


def test_nothing_listening_is_reported_as_such():
    r = run_probe(
        "udp", {"target": "127.0.0.1", "port": free_port(), "count": 3, "interval_s": 0.01,
                "timeout_s": 0.3},
    )  # fmt: skip
    assert r.status is Status.FAILED
    assert r.error and "port-unreachable" in r.error
