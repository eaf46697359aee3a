"""Load profiles and shapes as pure data: how many users, how fast they arrive, for how long.

A profile is the size of a run (light 10 users … burst 200); a shape is how the user count
moves during it (ramp, step, spike). ``users_at`` is what Locust's shape class asks every
second, kept here so it is unit-tested without Locust.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

Shape = Literal["constant", "ramp", "step", "spike"]
SHAPES: tuple[Shape, ...] = ("constant", "ramp", "step", "spike")

#: Locust user classes a run may use (defined in ``locustfile.py``).
USER_CLASSES: dict[str, str] = {
    "web": "WebUser",
    "heavy": "HeavyUser",
    "burst": "BurstUser",
    "database": "DatabaseUser",
    "endpoint": "EndpointUser",
}
#: The longest run a profile may ask for, seconds.
MAX_DURATION_S = 24 * 3600.0


@dataclass(frozen=True)
class Profile:
    """A run's size: peak ``users``, ``spawn_rate`` (users started per second), ``duration_s``."""

    name: str
    users: int
    spawn_rate: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if self.spawn_rate <= 0:
            raise ValueError(f"spawn_rate must be positive, got {self.spawn_rate}")
        if not 0 < self.duration_s <= MAX_DURATION_S:
            raise ValueError(
                f"duration_s must be in (0, {MAX_DURATION_S:g}], got {self.duration_s}"
            )


PROFILES: dict[str, Profile] = {
    "light": Profile("light", users=10, spawn_rate=5, duration_s=60),
    "medium": Profile("medium", users=50, spawn_rate=10, duration_s=120),
    "heavy": Profile("heavy", users=100, spawn_rate=20, duration_s=300),
    "burst": Profile("burst", users=200, spawn_rate=100, duration_s=60),
}


def resolve_profile(
    name: str,
    users: int | None = None,
    spawn_rate: float | None = None,
    duration_s: float | None = None,
) -> Profile:
    """The named profile with any of users, spawn rate and duration overridden."""
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
    return replace(
        base,
        users=base.users if users is None else users,
        spawn_rate=base.spawn_rate if spawn_rate is None else spawn_rate,
        duration_s=base.duration_s if duration_s is None else duration_s,
    )


#: Step shape: the number of equal steps up to the peak.
STEPS = 4
#: Spike shape: baseline fraction of peak users, and the spike's window as fractions of the run.
SPIKE_BASE = 0.2
SPIKE_WINDOW = (0.4, 0.6)


def users_at(shape: Shape, profile: Profile, elapsed_s: float) -> tuple[int, float] | None:
    """Target (users, spawn rate) ``elapsed_s`` seconds into the run; None once it is over.

    ramp: linear from 1 user to the peak over the first 80% of the run, then hold;
    step: ``STEPS`` equal steps, each held for an equal share of the run;
    spike: ``SPIKE_BASE`` of the peak, the full peak inside ``SPIKE_WINDOW``, back to base.
    """
    if elapsed_s >= profile.duration_s:
        return None
    frac = max(elapsed_s, 0.0) / profile.duration_s
    peak = profile.users
    if shape == "constant":
        users = peak
    elif shape == "ramp":
        users = max(1, math.ceil(peak * min(frac / 0.8, 1.0)))
    elif shape == "step":
        step = min(int(frac * STEPS) + 1, STEPS)
        users = max(1, math.ceil(peak * step / STEPS))
    elif shape == "spike":
        lo, hi = SPIKE_WINDOW
        users = peak if lo <= frac < hi else max(1, math.ceil(peak * SPIKE_BASE))
        if lo <= frac < hi:
            # a spike arrives at once: spawn the whole jump within a second
            return users, float(max(profile.spawn_rate, peak))
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return users, profile.spawn_rate
