"""Accuracy: the tcp probe's connect time against the injected RTT (a TCP handshake is one round
trip), and refused / timed-out connects told apart on a real path."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from tests.lab.accuracy import ATTEMPTS, hold_ms, path_ms, reset_holds, tolerance_ms, within
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import second_chance
from tests.support.metrics import figure
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

pytestmark = pytest.mark.lab
ClientCall = Callable[..., Any]

UP_MS, DOWN_MS = 15.0, 5.0
RTT_MS = UP_MS + DOWN_MS
COUNT = 100
CLOSED_PORT = 9  # nothing listens on it in the server namespace


def tcp(client_call: ClientCall, host: str, port: int, count: int, timeout_s: float = 2) -> Result:
    """One tcp probe run (back-to-back connects) from inside the client namespace."""
    options = {"target": host, "port": port, "count": count, "interval_s": 0,
               "timeout_s": timeout_s}  # fmt: skip
    result: Result = client_call(run_probe, "tcp", options)
    return result


def listener(host: str) -> socket.socket:
    """A listening TCP socket on ``host`` (run inside the server namespace via ``ns.call``).

    The kernel completes handshakes without accept(); the backlog is larger than all connects
    of a test, so no SYN is ever dropped for a full accept queue.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(1024)
    return sock


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_connect_time_matches_injected_rtt(lab: Lab, client_call: ClientCall, family: str) -> None:
    host = lab.server_ip if family == "ipv4" else lab.server_ip6
    with lab.server.ns.call(listener, host) as server:
        connect_time_matches(lab, client_call, host, int(server.getsockname()[1]), family)


def connect_time_matches(
    lab: Lab, client_call: ClientCall, host: str, port: int, family: str
) -> None:
    """Baseline through the idle delayer, then connect times against the injected RTT."""
    lab.start_delayer(1)
    reset_holds(lab)
    base = tcp(client_call, host, port, 50)
    assert base.status is Status.OK, base.error
    base_ms = path_ms(figure(base.metrics, "connect_p50_ms"), hold_ms(lab, "p50"))
    lab.set_link(0, "up", delay_ms=UP_MS)
    lab.set_link(0, "down", delay_ms=DOWN_MS)
    tol = tolerance_ms(RTT_MS)

    def measure() -> tuple[float, float]:
        """Errors (ms) of one run's connect avg and p50 against the truth."""
        reset_holds(lab)
        r = tcp(client_call, host, port, COUNT)
        truth = base_ms + hold_ms(lab)
        truth50 = base_ms + hold_ms(lab, "p50")
        assert r.status is Status.OK, r.error
        m = r.metrics
        assert m["ok_count"] == COUNT
        avg, p50 = figure(m, "connect_avg_ms"), figure(m, "connect_p50_ms")
        low = figure(m, "connect_min_ms")
        print(
            f"tcp {family}: base {base_ms:.3f} truth {truth:.3f} avg {avg:.3f}"
            f" ({avg - truth:+.3f}) p50 {p50:.3f} ({p50 - truth50:+.3f}) min {low:.3f}"
        )
        assert low >= RTT_MS
        return avg - truth, p50 - truth50

    # Shared cores: connect time ends when Python wakes from poll(), so a stall of the client
    # counts; a run that misses is measured again and every run printed. A real bias fails all.
    seen = second_chance(measure, lambda errors: within(errors, tol), ATTEMPTS)
    assert within(seen[-1], tol), seen


def test_refused_and_timeout_told_apart(lab: Lab, client_call: ClientCall) -> None:
    lab.set_link(0, "both", delay_ms=10)
    refused = tcp(client_call, lab.server_ip, CLOSED_PORT, 3)
    print(f"tcp refused: {refused.error}")
    assert refused.status is Status.FAILED
    assert refused.metrics["refused_count"] == 3 and refused.metrics["timeout_count"] == 0
    assert "ECONNREFUSED" in (refused.error or "")
    # Every SYN dropped (but one in 10^6: the lab rejects loss_pct=100, nft's numgen range ends
    # at 999999): nothing answers, so each attempt runs into its timeout.
    lab.set_link(0, "up", loss_pct=99.9999)
    silent = tcp(client_call, lab.server_ip, CLOSED_PORT, 2, timeout_s=0.3)
    print(f"tcp silent: {silent.error}")
    assert silent.status is Status.FAILED
    assert silent.metrics["timeout_count"] == 2 and silent.metrics["refused_count"] == 0
    assert "no answer within 0.3 s" in (silent.error or "")
