"""Self-check: ping loss over 1000 echoes lies within the 99 % binomial bounds of the loss set."""

from __future__ import annotations

import pytest

from tests.lab.netlab.refstats import binomial_bounds, parse_ping

pytestmark = pytest.mark.lab
COUNT = 1000


def ping_loss(lab, target: str, count: int = COUNT):
    out = lab.client.ns.run(
        ["ping", "-n", "-q", "-c", str(count), "-i", "0.005", "-W", "1", target], check=False
    )
    return parse_ping(out.stdout)


@pytest.mark.parametrize(
    ("link", "direction", "family"),
    [(0, "up", "ipv4"), (1, "down", "ipv6")],
)
def test_ping_loss_within_binomial_bounds(lab, link, direction, family):
    pct = 5.0
    lab.set_link(link, direction, loss_pct=pct)
    target = lab.server_ip if family == "ipv4" else lab.server_ip6
    lo, hi = binomial_bounds(COUNT, pct / 100, 0.99)
    summary = ping_loss(lab, target)
    # Every echo ping lost is one the nftables rule counted (nothing else drops here).
    assert sum(lab.loss_drops().values()) == summary.lost
    assert summary.transmitted == COUNT
    if not lo <= summary.lost <= hi:
        # A correct lab lands outside 99 % bounds once in a hundred runs; a second independent
        # sample must then be inside, so a true bias still fails and a fluke fails 1 in 10^4.
        first = summary
        summary = ping_loss(lab, target)
        assert lo <= summary.lost <= hi, (first, summary, (lo, hi))


def test_loss_in_both_directions_compounds(lab):
    lab.set_link(0, "up", loss_pct=3)
    lab.set_link(1, "down", loss_pct=3)
    summary = ping_loss(lab, lab.server_ip)
    p = 1 - (1 - 0.03) ** 2
    lo, hi = binomial_bounds(COUNT, p, 0.999)
    assert lo <= summary.lost <= hi, (summary, (lo, hi))


def test_loss_can_be_removed_live(lab):
    lab.set_link(0, "up", loss_pct=50)
    lab.set_link(0, "up", loss_pct=0)
    summary = ping_loss(lab, lab.server_ip, count=200)
    assert summary.lost == 0
