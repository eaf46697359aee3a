"""What the probes' accuracy tests (``test_accuracy_*.py``) share: the promised tolerance, the
number of runs a timing check gets, and the delayer's own error to add to the truth."""

from __future__ import annotations

from collections.abc import Sequence

from tests.lab.netlab import Lab

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
