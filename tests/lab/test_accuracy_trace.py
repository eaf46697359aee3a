"""Accuracy: the trace finds routers + 1 hops with the right addresses, agrees with mtr, and
shows loss where it is injected and not before."""

from __future__ import annotations

import re

import pytest

from tests.lab.netlab.refstats import traceroute_hops
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

pytestmark = pytest.mark.lab
MTR_ROW = re.compile(r"^\s*\d+\.\|--\s+(\S+)\s+([\d.]+)%", re.MULTILINE)


def mtr_report(in_client, target: str, count: int) -> list[tuple[str, float]]:
    """(address, loss %) per hop from ``mtr --report -n``."""
    out = in_client(["mtr", "--report", "--no-dns", "-c", str(count), "-i", "0.1", target],
                    timeout=60).stdout  # fmt: skip
    return [(m.group(1), float(m.group(2))) for m in MTR_ROW.finditer(out)]


@pytest.mark.parametrize("lab", [2], indirect=True)
@pytest.mark.parametrize("mode", ["icmp", "udp", "tcp"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_hops_and_addresses(lab, client_call, in_client, mode, v6):
    target = lab.server_ip6 if v6 else lab.server_ip
    r = client_call(run_probe, "trace", {"target": target, "mode": mode, "rounds": 2,
                                         "interval_s": 0, "timeout_s": 1})  # fmt: skip
    assert r.status is Status.OK, r.error
    assert r.metrics["hops_count"] == lab.routers_count + 1
    assert [s["address"] for s in r.samples] == lab.hops(v6=v6)
    if mode == "udp":  # traceroute's default mode: the reference must show the same path
        argv = ["traceroute", "-n", "-q", "1", "-w", "1", *(["-6"] if v6 else []), target]
        assert traceroute_hops(in_client(argv).stdout) == lab.hops(v6=v6)
    assert r.samples[-1]["destination"] is True


@pytest.mark.parametrize("lab", [2], indirect=True)
def test_loss_shows_at_the_hop_where_it_is_injected(lab, client_call, in_client):
    # Link 1 "down" (router 2 → router 1) carries the replies of hop 2 and hop 3, not hop 1.
    lab.set_link(1, "down", loss_pct=50)
    rounds = 12
    r = client_call(run_probe, "trace", {"target": lab.server_ip, "rounds": rounds,
                                         "interval_s": 0.05, "timeout_s": 0.5})  # fmt: skip
    assert [s["address"] for s in r.samples] == lab.hops()
    losses = [float(s["loss_pct"]) for s in r.samples]
    print(f"trace loss per hop: {losses}")
    assert losses[0] == 0.0 and losses[1] > 0 and losses[2] > 0
    mtr = mtr_report(in_client, lab.server_ip, rounds)
    print(f"mtr: {mtr}")
    assert [a for a, _ in mtr] == lab.hops()
    assert mtr[0][1] == 0.0 and mtr[1][1] > 0 and mtr[2][1] > 0
