"""Failed-login limits per address and per account, on a hand-driven clock."""

from __future__ import annotations

from waddleperf.web import login_limits
from waddleperf.web.login_limits import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_account_limit_and_its_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_address=100, per_account=3, window_s=60, clock=clock)
    for n in range(3):
        assert limiter.refusal(f"10.0.0.{n}", "A@x") is None
        limiter.failed(f"10.0.0.{n}", "A@x")
        clock.now += 1
    why = limiter.refusal("10.0.0.9", "a@x")
    assert why == "too many failed logins for this account: try again in 57 s"
    assert limiter.refusal("10.0.0.9", "b@x") is None
    clock.now += 57.5  # the first failure (at 1000) leaves the window at 1060
    assert limiter.refusal("10.0.0.9", "a@x") is None


def test_per_address_limit() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_address=2, per_account=100, window_s=30, clock=clock)
    limiter.failed("10.1.1.1", "a@x")
    limiter.failed("10.1.1.1", "b@x")
    assert (limiter.refusal("10.1.1.1", "c@x") or "").startswith(
        "too many failed logins from 10.1.1.1"
    )
    assert limiter.refusal("10.1.1.2", "c@x") is None


def test_success_clears_the_account_not_the_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(per_address=3, per_account=2, window_s=60, clock=clock)
    limiter.failed("10.0.0.1", "a@x")
    limiter.failed("10.0.0.1", "a@x")
    limiter.succeeded("A@X")
    assert limiter.refusal("10.0.0.2", "a@x") is None
    limiter.failed("10.0.0.1", "z@x")
    assert limiter.refusal("10.0.0.1", "a@x") is not None


def test_memory_is_bounded(monkeypatch: object) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setattr(login_limits, "MAX_KEYS", 50)
    try:
        limiter = LoginLimiter(per_address=5, per_account=5, window_s=60, clock=Clock())
        for n in range(500):
            for _ in range(10):
                limiter.failed(f"a{n}", f"u{n}")
        assert len(limiter._address.fails) == 50 and len(limiter._account.fails) == 50
        assert all(len(times) <= 5 for times in limiter._address.fails.values())
    finally:
        mp.undo()
