"""What the probes' accuracy tests (``test_accuracy_*.py``) share: the promised tolerance, the
number of runs a timing check gets, and the truth: the path's own round trip plus what the
delayers really held the packets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import binomial_bounds
from tests.lab.netlab.tunpath import TUN_DOWN, TUN_UP

T = TypeVar("T")

#: Independent runs a timing check gets (``refstats.second_chance``): stalls of the shared
#: machine (seen: 0.5 s) can spoil runs in a row; a real bias fails all of them.
ATTEMPTS = 5

#: One timing check: (what, measured ms, true ms, tolerance ms).
Check = tuple[str, float, float, float]


def tolerance_ms(true_ms: float) -> float:
    """The accuracy we promise: max(0.5 ms, 5 %) of the true time."""
    return max(0.5, 0.05 * true_ms)


def reset_holds(lab: Lab) -> None:
    """Start every delayer's figures afresh: what follows is judged on its own packets."""
    for handle in lab.delayers.values():
        handle.stats(reset=True)


def hold_ms(lab: Lab, stat: str = "mean", passes: Sequence[tuple[int, str]] | None = None) -> float:
    """How long the delayers really held packets since their last reset (ms), as the kernel saw
    them go in and come out (``delaytruth``), summed over the ``passes`` (router, device) one
    round trip makes — by default every device of every delayer, which is what end-to-end
    traffic crosses. ``mean`` belongs to an average; ``p50`` (the injected hold plus the median
    lateness) to a median.

    Added to the path's own round trip (a baseline less its own holds, :func:`path_ms`), this
    is the truth a measurement is held against: what the lab did, not what it was told.
    """
    if passes is None:
        passes = [(k, tun) for k, handle in lab.delayers.items() for tun in (TUN_UP, TUN_DOWN)]
    stats = {k: lab.delayers[k].stats()["tuns"] for k in {k for k, _ in passes}}
    total = 0.0
    for k, tun in passes:
        st = stats[k][tun]
        if stat == "mean":
            total += float(st["hold_mean_ms"])
        elif stat == "p50":
            total += float(st["injected_mean_ms"]) + float(st["late_p50_ms"])
        else:
            raise ValueError(f"stat must be mean or p50, not {stat!r}")
    return total


def hold_spread_ms(lab: Lab, passes: Sequence[tuple[int, str]] | None = None) -> float:
    """The standard deviation (ms) of a round trip's time in the delayers since their last
    reset: the devices' hold variances summed (each device's holds are independent of the
    others'), over ``passes`` as in :func:`hold_ms`. What an RTT's spread truly was."""
    if passes is None:
        passes = [(k, tun) for k in lab.delayers for tun in (TUN_UP, TUN_DOWN)]
    stats = {k: lab.delayers[k].stats()["tuns"] for k in {k for k, _ in passes}}
    return float(sum(float(stats[k][tun]["hold_sd_ms"]) ** 2 for k, tun in passes) ** 0.5)


def hold_jitter_ms(lab: Lab, router: int, tun: str) -> float:
    """RFC 3550's interarrival jitter (ms) over one device's actual holds since the last reset:
    what a receiver of exactly those packets reports when that device is the only spread."""
    return float(lab.delayers[router].stats()["tuns"][tun]["hold_jitter_ms"])


def path_ms(baseline_ms: float, baseline_hold_ms: float) -> float:
    """The path's own round trip: a baseline measured through the delayers (at zero delay)
    less what they held its packets — reading a packet takes a wake-up even with no delay."""
    return baseline_ms - baseline_hold_ms


def within(errors_ms: tuple[float, ...], tol_ms: float) -> bool:
    """Whether every error (measured − truth, ms) is within ``tol_ms``."""
    return all(abs(e) <= tol_ms for e in errors_ms)


def off(checks: Sequence[Check]) -> list[Check]:
    """The checks whose measured value is further from the truth than their tolerance."""
    return [c for c in checks if abs(c[1] - c[2]) > c[3]]


def print_checks(probe: str, checks: Sequence[Check]) -> None:
    """One line per check: measured, truth, error and tolerance (ms)."""
    for name, value, truth, tol in checks:
        print(f"{probe} {name}: {value:.3f} truth {truth:.3f} ({value - truth:+.3f}, ±{tol:.2f})")


def set_echo_loss(lab: Lab, up_pct: float, down_pct: float, count: int) -> tuple[float, int, int]:
    """Loss on requests (link 0, client → r1) and on replies (link 1, server → r1). Returns the
    chance that an echo is lost (either dropped) and the exact 99 % binomial bounds of how many
    of ``count`` are."""
    lab.set_link(0, "up", loss_pct=up_pct)
    lab.set_link(1, "down", loss_pct=down_pct)
    p = 1 - (1 - up_pct / 100) * (1 - down_pct / 100)
    lo, hi = binomial_bounds(count, p, 0.99)
    return p, lo, hi


def counting_drops(lab: Lab, run: Callable[[], T]) -> tuple[T, int]:
    """``run()``'s result and how many packets the lab's loss rules dropped meanwhile."""
    before = sum(lab.loss_drops().values())
    result = run()
    return result, sum(lab.loss_drops().values()) - before


#: The lab's precision, per delayer device: how late, on average, it hands a packet on against
#: the hold its stages scheduled (wake-up to read it plus lateness of the write), as the kernel
#: saw it. Measured (docs/lab.md): 0.1–0.3 ms on a quiet machine, up to ~0.5 ms beside the rest
#: of the suite; a mean past this bound is a lab fault (a demoted or stalled delayer).
PRECISION_MEAN_MS = 1.0


def lateness(lab: Lab) -> dict[str, dict[str, float]]:
    """Per delayer device (``r1/dly-up``…): packets paired, lateness mean/p50/p99/max (ms), the
    write's share of it, and the scheduler state — a precision failure's diagnosis."""
    out: dict[str, dict[str, float]] = {}
    for k, handle in sorted(lab.delayers.items()):
        reply = handle.stats()
        for tun, st in reply["tuns"].items():
            out[f"r{k}/{tun}"] = {
                "n": st["truth_count"],
                "mean": round(st["late_mean_ms"], 3),
                "p50": round(st["late_p50_ms"], 3),
                "p99": round(st["late_p99_ms"], 3),
                "max": round(st["late_max_ms"], 3),
                "write_mean": round(st["write_late_mean_ms"], 3),
                "unmatched": st["truth_unmatched"],
                "realtime": reply["realtime"],
                "demotions": reply["demotions"],
            }
    return out


def precise(table: dict[str, dict[str, float]]) -> bool:
    """Whether every device of a :func:`lateness` table kept the lab's precision."""
    return all(dev["mean"] <= PRECISION_MEAN_MS for dev in table.values())
