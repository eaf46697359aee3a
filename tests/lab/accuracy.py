"""What the probes' accuracy tests (``test_accuracy_*.py``) share: the promised tolerance, the
number of runs a timing check gets, and the delayer's own error to add to the truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import binomial_bounds

T = TypeVar("T")

#: Independent runs a timing check gets (``refstats.second_chance``): stalls of the shared
#: machine (seen: 0.5 s) can spoil runs in a row; a real bias fails all of them.
ATTEMPTS = 5

#: One timing check: (what, measured ms, true ms, tolerance ms).
Check = tuple[str, float, float, float]


def tolerance_ms(true_ms: float) -> float:
    """The accuracy we promise: max(0.5 ms, 5 %) of the true time."""
    return max(0.5, 0.05 * true_ms)


def delayer_late_ms(lab: Lab, stat: str = "mean") -> float:
    """How late router 1's delayer released packets since its last reset (ms, ``mean`` or
    ``p50``), both directions summed: the lab's own error (a stall of its process shows in the
    mean), part of the delay packets really saw. The mean belongs to an average, the p50 to a
    median.
    """
    tuns = lab.delayers[1].stats()["tuns"]
    return float(tuns["dly-up"][f"late_{stat}_ms"]) + float(tuns["dly-dn"][f"late_{stat}_ms"])


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
