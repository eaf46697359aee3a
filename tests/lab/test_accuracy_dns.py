"""Accuracy: the dns probe against the real DNS server in the lab (dnsmasq) — answers right over
IPv4 and IPv6, NXDOMAIN / REFUSED / no-records reported as such, query time one injected RTT
over UDP (two over TCP: the handshake is timed too), and in agreement with dig."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.lab.accuracy import (
    ATTEMPTS,
    Check,
    hold_ms,
    off,
    path_ms,
    print_checks,
    reset_holds,
    tolerance_ms,
)
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import second_chance
from tests.lab.netlab.services import DnsServer
from tests.support.metrics import figure
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

pytestmark = pytest.mark.lab
ClientCall = Callable[..., Any]
RunInNs = Callable[..., "subprocess.CompletedProcess[str]"]

UP_MS, DOWN_MS = 15.0, 5.0
RTT_MS = UP_MS + DOWN_MS
COUNT = 60
DIG_QUERIES = 20
QUERY_TIME = re.compile(r"^;; Query time: (\d+) msec$", re.MULTILINE)


def dns_probe(
    client_call: ClientCall,
    resolver: str,
    name: str = "server.lab.test",
    count: int = COUNT,
    **options: Any,
) -> Result:
    """One dns probe run from inside the client namespace against ``resolver``."""
    opts = {"target": name, "resolvers": [resolver], "count": count, "timeout_s": 2, **options}
    result: Result = client_call(run_probe, "dns", opts)
    return result


def dig_times(in_client: RunInNs, server: str, names: Sequence[str]) -> list[int]:
    """dig's "Query time" (whole ms) of each name, queried one after another by one dig."""
    out = in_client(["dig", f"@{server}", "+tries=1", "+time=2", *names], timeout=60).stdout
    return [int(t) for t in QUERY_TIME.findall(out)]


def test_answers_and_outcomes(lab: Lab, dns_server: DnsServer, client_call: ClientCall) -> None:
    lab.set_link(0, "both", delay_ms=5)
    a = dns_probe(client_call, dns_server.host, count=2)
    assert a.status is Status.OK, a.error
    assert a.info["answers"] == lab.server_ip and a.metrics["noerror_count"] == 2
    assert dns_server.host6 is not None
    aaaa = dns_probe(client_call, f"[{dns_server.host6}]:53", count=2, record_type="AAAA")
    assert aaaa.status is Status.OK, aaaa.error
    assert aaaa.info["answers"] == lab.server_ip6
    nx = dns_probe(client_call, dns_server.host, "nope.lab.test", count=3)
    print(f"dns nxdomain: {nx.error}")
    assert nx.status is Status.FAILED
    assert nx.metrics["nxdomain_count"] == 3 and nx.metrics["noerror_count"] == 0
    assert "3 NXDOMAIN (the name does not exist)" in (nx.error or "")
    # Answered, so still timed: one round trip.
    assert figure(nx.metrics, "query_min_ms") >= 10.0
    refused = dns_probe(client_call, dns_server.host, "elsewhere.test", count=1)
    assert refused.status is Status.FAILED and refused.metrics["refused_count"] == 1
    empty = dns_probe(client_call, dns_server.host, "v4only.lab.test", count=1, record_type="AAAA")
    print(f"dns no records: {empty.error}")
    assert empty.status is Status.FAILED and empty.metrics["noerror_count"] == 1
    assert "no AAAA records" in (empty.error or "")


def test_query_time_matches_injected_rtt_and_dig(
    lab: Lab, dns_server: DnsServer, client_call: ClientCall, in_client: RunInNs
) -> None:
    lab.start_delayer(1)
    tol = tolerance_ms(RTT_MS)
    tol_tcp = tolerance_ms(2 * RTT_MS)

    def measure() -> list[Check]:
        """(what, measured, truth, tolerance) of one run, its baselines measured anew (ms)."""
        lab.set_link(0, "both", delay_ms=0)
        # Two round trips per query over TCP; the mean hold per packet stands for each of them.
        reset_holds(lab)
        base = dns_probe(client_call, dns_server.host).metrics
        base_hold = {stat: hold_ms(lab, stat) for stat in ("mean", "p50")}
        reset_holds(lab)
        base_tcp = dns_probe(client_call, dns_server.host, tcp=True).metrics
        base_hold_tcp = {stat: 2 * hold_ms(lab, stat) for stat in ("mean", "p50")}
        lab.set_link(0, "up", delay_ms=UP_MS)
        lab.set_link(0, "down", delay_ms=DOWN_MS)
        reset_holds(lab)
        r = dns_probe(client_call, dns_server.host)
        held = {stat: hold_ms(lab, stat) for stat in ("mean", "p50")}
        reset_holds(lab)
        over_tcp = dns_probe(client_call, dns_server.host, tcp=True)
        held_tcp = {stat: 2 * hold_ms(lab, stat) for stat in ("mean", "p50")}
        dig = dig_times(in_client, dns_server.host, ["server.lab.test"] * DIG_QUERIES)
        for res in (r, over_tcp):
            assert res.status is Status.OK, res.error
            assert res.metrics["noerror_count"] == COUNT
            assert figure(res.metrics, "query_min_ms") >= RTT_MS
        m, t = r.metrics, over_tcp.metrics
        assert len(dig) == DIG_QUERIES
        checks: list[Check] = []
        for stat, of in (("avg", "mean"), ("p50", "p50")):
            udp_path = path_ms(figure(base, f"query_{stat}_ms"), base_hold[of])
            tcp_path = path_ms(figure(base_tcp, f"query_{stat}_ms"), base_hold_tcp[of])
            udp_truth = udp_path + held[of]
            tcp_truth = tcp_path + held_tcp[of]
            checks.append((f"udp {stat}", figure(m, f"query_{stat}_ms"), udp_truth, tol))
            checks.append((f"tcp {stat}", figure(t, f"query_{stat}_ms"), tcp_truth, tol_tcp))
        # dig prints whole milliseconds, rounded down: the time lies within [n, n + 1), so the
        # comparison is with n + 0.5 and half a millisecond more tolerance. Medians: dig shows
        # an occasional +4 ms of its own (see the printed times) that the path does not.
        dig_p50 = statistics.median_low(dig) + 0.5
        checks.append(("udp p50 vs dig p50 + 0.5", figure(m, "query_p50_ms"), dig_p50, tol + 0.5))
        print_checks("dns", checks)
        print(f"dig query times (ms): {dig}")
        return checks

    # Shared cores: a stall of the delayer is in what it held (the truth), a stall of
    # dnsmasq or of the client (the query time ends when Python has parsed the answer) is not;
    # a run that misses is measured again (baselines included), every run printed. A real bias
    # fails all of them.
    runs = second_chance(measure, lambda checks: not off(checks), ATTEMPTS)
    bad = off(runs[-1])
    assert not bad, bad
