"""Profiles and load shapes (pure)."""

from __future__ import annotations

import pytest

from waddleperf.load.profiles import PROFILES, Profile, resolve_profile, users_at


def test_named_profiles() -> None:
    assert {n: p.users for n, p in PROFILES.items()} == {
        "light": 10,
        "medium": 50,
        "heavy": 100,
        "burst": 200,
    }


def test_overrides_and_validation() -> None:
    p = resolve_profile("medium", duration_s=7, spawn_rate=3)
    assert (p.users, p.spawn_rate, p.duration_s) == (50, 3, 7)
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("huge")
    with pytest.raises(ValueError):
        Profile("x", users=0, spawn_rate=1, duration_s=1)


P = Profile("t", users=100, spawn_rate=10, duration_s=100)


def test_constant_and_end() -> None:
    assert users_at("constant", P, 0) == (100, 10)
    assert users_at("constant", P, 100) is None


def test_ramp_grows_then_holds() -> None:
    counts = [users_at("ramp", P, t)[0] for t in range(0, 100, 10)]  # type: ignore[index]
    assert counts == sorted(counts)
    assert counts[0] == 1 and counts[-1] == 100
    assert users_at("ramp", P, 40) == (50, 10)


def test_step_has_four_levels() -> None:
    levels = {users_at("step", P, t)[0] for t in range(100)}  # type: ignore[index]
    assert levels == {25, 50, 75, 100}


def test_spike_jumps_inside_its_window_only() -> None:
    assert users_at("spike", P, 10) == (20, 10)
    users, rate = users_at("spike", P, 50)  # type: ignore[misc]
    assert users == 100 and rate >= 100
    assert users_at("spike", P, 80) == (20, 10)
