"""Self-check: iputils ping sees exactly what the lab did to its packets, and the lab does what
it is told within its precision.

The truth of a run is the path's own round trip plus how long the delayers really held that
run's packets, as the kernel saw them enter and leave each delayer device (``delaytruth``):
ping must match it within 0.5 ms. The configured delay is compared only with the lab's own
precision figure (``accuracy.PRECISION_MEAN_MS``), and a miss prints the lateness of every
delayer device for every attempt.
"""

from __future__ import annotations

import pytest

from tests.lab.accuracy import (
    PRECISION_MEAN_MS,
    hold_ms,
    hold_spread_ms,
    lateness,
    path_ms,
    precise,
    reset_holds,
)
from tests.lab.netlab.refstats import parse_ping, second_chance

pytestmark = pytest.mark.lab
#: ping against the truth of its own packets: kernel stamps at both ends of one path.
TOLERANCE_MS = 0.5


def ping(lab, target: str, count: int = 200, interval: str = "0.01"):
    out = lab.client.ns.run(["ping", "-n", "-q", "-c", str(count), "-i", interval, target])
    return parse_ping(out.stdout)


def path_rtt(lab, target: str, routers: list[int]) -> float:
    """The path's own round trip (ms): ping through the delayers at zero delay, less what they
    held its packets."""
    for k in routers:
        lab.start_delayer(k)
    reset_holds(lab)
    summary = ping(lab, target)
    assert summary.rtt_avg_ms is not None, summary
    return path_ms(summary.rtt_avg_ms, hold_ms(lab))


def judged(lab, target: str, base_ms: float, configured_ms: float, **kw):
    """One ping run and what it is judged against: (summary, truth, lateness per device)."""
    reset_holds(lab)
    summary = ping(lab, target, **kw)
    truth = base_ms + hold_ms(lab)
    table = lateness(lab)
    print(
        f"ping avg {summary.rtt_avg_ms} truth {truth:.3f} (path {base_ms:.3f} + held"
        f" {truth - base_ms:.3f}, configured {configured_ms}); lateness {table}"
    )
    return summary, truth, table


def ping_matches(run) -> bool:
    summary, truth, _table = run
    return summary.rtt_avg_ms is not None and abs(summary.rtt_avg_ms - truth) <= TOLERANCE_MS


def check(runs, configured_ms: float) -> None:
    """ping against the truth of the last run; the lab against what it was told, within its
    precision (every attempt's lateness printed)."""
    summary, truth, table = runs[-1]
    assert summary.received == summary.transmitted, summary
    assert summary.rtt_avg_ms == pytest.approx(truth, abs=TOLERANCE_MS), runs
    assert summary.rtt_min_ms is not None and summary.rtt_min_ms >= configured_ms
    lateness_seen = [run[2] for run in runs]
    assert precise(table), f"the lab's lateness, every attempt: {lateness_seen}"


def ok(run) -> bool:
    return ping_matches(run) and precise(run[2])


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_ping_rtt_equals_what_the_lab_held(lab, family):
    target = lab.server_ip if family == "ipv4" else lab.server_ip6
    base_ms = path_rtt(lab, target, [1])
    lab.set_link(0, "up", delay_ms=20)
    lab.set_link(0, "down", delay_ms=20)
    runs = second_chance(lambda: judged(lab, target, base_ms, 40.0), ok)
    check(runs, 40.0)


@pytest.mark.parametrize("lab", [3], indirect=True)
def test_delays_on_several_links_add_up(lab):
    links = ((0, "up"), (1, "down"), (3, "up"), (3, "down"))  # delayers of r1 and r3
    base_ms = path_rtt(lab, lab.server_ip, [1, 3])
    assert base_ms < 1.0, base_ms  # three routers cost well under 1 ms
    for (link, direction), delay in zip(links, (5, 7, 3, 10), strict=True):
        lab.set_link(link, direction, delay_ms=delay)
    runs = second_chance(lambda: judged(lab, lab.server_ip, base_ms, 25.0), ok)
    check(runs, 25.0)
    # Every one of the four delayer devices in the path held what its stage was told.
    _summary, _truth, table = runs[-1]
    assert set(table) == {"r1/dly-up", "r1/dly-dn", "r3/dly-up", "r3/dly-dn"}
    assert all(dev["n"] >= 200 for dev in table.values()), table


@pytest.mark.parametrize(("one_way", "rtt"), [(10, 20.0), (2, 4.0), (0, 0.0)])
def test_delay_changes_while_running(lab, one_way, rtt):
    base_ms = path_rtt(lab, lab.server_ip, [1])
    lab.set_link(1, "both", delay_ms=7)  # first something else, then the change under test
    ping(lab, lab.server_ip, count=10)
    lab.set_link(1, "both", delay_ms=one_way)
    runs = second_chance(lambda: judged(lab, lab.server_ip, base_ms, rtt, count=50), ok)
    check(runs, rtt)
    # What the lab held is the new delay, not the old one.
    held = runs[-1][1] - base_ms
    assert held == pytest.approx(rtt, abs=2 * PRECISION_MEAN_MS), runs[-1]


def test_jitter_spreads_rtt_around_the_delay(lab):
    base_ms = path_rtt(lab, lab.server_ip, [1])
    lab.set_link(0, "up", delay_ms=20, jitter_ms=5)

    def spread(run):
        """ping's mdev against the spread the delayer really gave the packets (its truth), and
        that spread against uniform ±5 ms (sd 5/√3 ≈ 2.89 ms): the lab's precision."""
        summary, _truth, _table = run
        sd = hold_spread_ms(lab)
        print(f"ping mdev {summary.rtt_mdev_ms} truth sd {sd:.3f} (uniform ±5: 2.887)")
        return summary.rtt_mdev_ms, sd

    def good(run) -> bool:
        s = run[0]
        mdev, sd = run[3]
        return (
            ok(run[:3])
            and abs(mdev - sd) <= 0.15 * sd
            and abs(sd - 2.887) <= 0.6
            and 15.0 <= s.rtt_min_ms < 17.0 + TOLERANCE_MS
            and s.rtt_max_ms > 23.0
        )

    # 50 ms between pings: far apart, so keeping order never holds one back behind another.
    def measure():
        run = judged(lab, lab.server_ip, base_ms, 20.0, count=100, interval="0.05")
        return (*run, spread(run))

    runs = second_chance(measure, good)
    check([run[:3] for run in runs], 15.0)
    assert good(runs[-1]), runs
