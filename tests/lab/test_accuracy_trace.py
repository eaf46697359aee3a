"""Accuracy: the trace finds routers + 1 hops with the right addresses; per hop, its RTT shows an
injected delay only beyond the delayed link, within the promised tolerance of the truth and of
``mtr --report`` on the same path; its loss shows where loss is injected and not before, inside
the exact 99 % binomial bounds, equal to the lab's drop count and in line with mtr's Loss%."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
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
from tests.lab.netlab.refstats import (
    MtrHop,
    binomial_bounds,
    parse_mtr_report,
    second_chance,
    traceroute_hops,
)
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

pytestmark = pytest.mark.lab
RunInNs = Callable[..., "subprocess.CompletedProcess[str]"]

# Delay on link 1 (router 1 — router 2), asymmetric so a hop cannot pass by showing twice one
# way. Where the lab emulates it (docs/lab.md): the way back in router 1's delayer, which
# forwards every reply from router 2 and beyond; the way out in router 2's delayer, which
# forwards only what goes past router 2 — a probe that expires at router 2 is router 2's own
# traffic and is not delayed. So hop 1 sees nothing, hop 2 DOWN_MS, hop 3 DOWN_MS + UP_MS.
DOWN_MS, UP_MS = 15.0, 5.0
DELAY_ROUNDS = 30
# Loss on link 1's way back: the replies of hops 2 and 3 are dropped, those of hop 1 never.
LOSS_PCT = 20.0
LOSS_ROUNDS = 100


def trace(client_call: Callable[..., Any], target: str, **options: Any) -> Result:
    """One trace probe run from inside the client namespace."""
    result: Result = client_call(run_probe, "trace", {"target": target, **options})
    return result


def rows(r: Result) -> list[dict[str, Any]]:
    """The per-hop samples of a trace record."""
    assert r.samples is not None, r.error
    return [dict(s) for s in r.samples]


def mtr(in_client: RunInNs, target: str, rounds: int, interval_s: float) -> list[MtrHop]:
    """``mtr --report`` (ICMP, no DNS) from the client namespace; 1 s grace for late replies."""
    argv = ["mtr", "--report", "--no-dns", "-c", str(rounds), "-i", str(interval_s),
            "-G", "1", target]  # fmt: skip
    return parse_mtr_report(in_client(argv, timeout=60).stdout)


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
def test_rtt_per_hop_shows_the_delay_beyond_the_delayed_link(
    lab: Lab, client_call: Callable[..., Any], in_client: RunInNs
) -> None:
    target = lab.server_ip
    options = {"rounds": DELAY_ROUNDS, "interval_s": 0.02, "timeout_s": 1}
    # The baseline goes through both delayers at zero delay; less what they held its packets it
    # is each hop's own round trip. Per hop the least of three runs: a stall of the machine
    # outside the delayers can only raise an average (one reply of hop 1 held 100–180 ms was
    # seen under load 9, and a baseline spoiled by it makes every later run look wrong).
    lab.start_delayer(1)
    lab.start_delayer(2)
    # The delayer passes of each hop's round trip: out through r1 (and r2), back the same way.
    passes: list[list[tuple[int, str]]] = [
        [],
        [(1, "dly-up"), (1, "dly-dn")],
        [(1, "dly-up"), (2, "dly-up"), (2, "dly-dn"), (1, "dly-dn")],
    ]

    def baseline() -> list[float]:
        reset_holds(lab)
        b = trace(client_call, target, **options)
        assert b.status is Status.OK, b.error
        return [
            path_ms(float(s["rtt_avg_ms"]), hold_ms(lab, "mean", p))
            for s, p in zip(rows(b), passes, strict=True)
        ]

    base_runs = [baseline() for _ in range(3)]
    base_ms = [min(hop) for hop in zip(*base_runs, strict=True)]
    lab.set_link(1, "down", delay_ms=DOWN_MS)
    lab.set_link(1, "up", delay_ms=UP_MS)
    injected = [0.0, DOWN_MS, DOWN_MS + UP_MS]
    tols = [tolerance_ms(ms) for ms in injected]

    def measure() -> list[Check]:
        """Per hop: the probe's avg against the truth, mtr's against its truth, and the two
        against each other (ms)."""
        reset_holds(lab)
        r = trace(client_call, target, **options)
        truth = [b + hold_ms(lab, "mean", p) for b, p in zip(base_ms, passes, strict=True)]
        reset_holds(lab)
        ref = mtr(in_client, target, DELAY_ROUNDS, 0.02)
        mtr_truth = [b + hold_ms(lab, "mean", p) for b, p in zip(base_ms, passes, strict=True)]
        assert r.status is Status.OK, r.error
        assert [s["address"] for s in rows(r)] == lab.hops()
        assert [h.host for h in ref] == lab.hops()
        assert all(s["received_count"] == DELAY_ROUNDS for s in rows(r)), rows(r)
        assert all(h.sent == DELAY_ROUNDS and h.lost == 0 for h in ref), ref
        checks: list[Check] = []
        for k, (s, h) in enumerate(zip(rows(r), ref, strict=True)):
            avg = float(s["rtt_avg_ms"])
            # Nothing can come back before the injected delay has passed.
            assert float(s["rtt_best_ms"]) >= injected[k], s
            checks += [
                (f"hop {k + 1} avg", avg, truth[k], tols[k]),
                (f"hop {k + 1} mtr avg", h.avg_ms, mtr_truth[k], tols[k]),
                (f"hop {k + 1} avg, against mtr avg as", avg, h.avg_ms, tols[k]),
            ]
        print(f"trace base per hop {[round(b, 3) for b in base_ms]} ms (runs {base_runs})")
        print_checks("trace", checks)
        return checks

    # Two cores shared with other test runs: a stall of the machine during a 1–2 s run moves
    # an average of 30 by most of a millisecond, so a run that misses is measured again and
    # every run is printed. A real bias fails all of them.
    seen = second_chance(measure, lambda checks: not off(checks), ATTEMPTS)
    assert not off(seen[-1]), seen


@pytest.mark.parametrize("lab", [2], indirect=True)
def test_loss_shows_at_the_hop_where_it_is_injected(
    lab: Lab, client_call: Callable[..., Any], in_client: RunInNs
) -> None:
    target = lab.server_ip
    lab.set_link(1, "down", loss_pct=LOSS_PCT)
    lo, hi = binomial_bounds(LOSS_ROUNDS, LOSS_PCT / 100, 0.99)
    # max_hops = the path's length: no probe goes past the server (the first round would
    # otherwise send TTL 4 … 30 too), so every reply lost is one the lab's rule dropped.
    options = {"rounds": LOSS_ROUNDS, "interval_s": 0.01, "timeout_s": 0.1,
               "max_hops": lab.routers_count + 1}  # fmt: skip

    def measure() -> tuple[list[int], int, list[int]]:
        """Lost per hop of one trace run, the lab's drops during it, lost per hop of mtr."""
        before = sum(lab.loss_drops().values())
        r = trace(client_call, target, **options)
        drops = sum(lab.loss_drops().values()) - before
        ref = mtr(in_client, target, LOSS_ROUNDS, 0.02)
        assert [s["address"] for s in rows(r)] == lab.hops()
        assert [h.host for h in ref] == lab.hops()
        assert all(s["sent_count"] == LOSS_ROUNDS for s in rows(r)), rows(r)
        assert all(h.sent == LOSS_ROUNDS for h in ref), ref
        lost = [int(s["sent_count"]) - int(s["received_count"]) for s in rows(r)]
        assert [float(s["loss_pct"]) for s in rows(r)] == [100 * n / LOSS_ROUNDS for n in lost]
        mtr_lost = [h.lost for h in ref]
        print(
            f"trace lost per hop of {LOSS_ROUNDS}: {lost} (nft dropped {drops}); mtr {mtr_lost};"
            f" 99 % bounds {lo}..{hi} (p = {LOSS_PCT:g} %)"
        )
        return lost, drops, mtr_lost

    def ok(run: tuple[list[int], int, list[int]]) -> bool:
        lost, drops, mtr_lost = run
        # A reply later than the 0.1 s timeout (a stall) counts as lost but was not dropped.
        inside = all(lo <= n <= hi for n in lost[1:] + mtr_lost[1:])
        return lost[0] == 0 and mtr_lost[0] == 0 and inside and sum(lost) == drops

    # A correct probe lands outside 99 % bounds once in a hundred; another independent run
    # must then be inside, so a bias still fails.
    seen = second_chance(measure, ok, ATTEMPTS)
    lost, drops, mtr_lost = seen[-1]
    assert lost[0] == 0 and mtr_lost[0] == 0, seen  # no loss before the injected link
    assert all(lo <= n <= hi for n in lost[1:]), seen
    assert all(lo <= n <= hi for n in mtr_lost[1:]), seen
    assert sum(lost) == drops, seen  # every loss the trace reports is a packet the lab dropped
