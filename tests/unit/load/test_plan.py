"""The load plan's one model: defaults, validation, text values as flags give them (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from waddleperf.load.plan import LoadOptions
from waddleperf.load.profiles import PROFILES


def test_defaults_are_the_light_web_profile() -> None:
    plan = LoadOptions()
    assert plan.profile_spec == PROFILES["light"]
    assert (plan.user, plan.shape, plan.rate, plan.wait_s, plan.workers) == (
        "web", "constant", None, None, 0
    )  # fmt: skip
    assert plan.user_class == "WebUser"


def test_overrides_size_the_profile() -> None:
    spec = LoadOptions(profile="medium", duration_s=7, spawn_rate=3).profile_spec
    assert (spec.name, spec.users, spec.spawn_rate, spec.duration_s) == ("medium", 50, 3, 7)


def test_plan_validation() -> None:
    with pytest.raises(ValueError, match="unknown user"):
        LoadOptions(user="robot")
    with pytest.raises(ValueError, match="unknown profile 'giant'"):
        LoadOptions(profile="giant")
    with pytest.raises(ValueError):
        LoadOptions(rate=0)
    with pytest.raises(ValueError, match="constant rate"):
        LoadOptions(rate=10, shape="ramp")
    with pytest.raises(ValueError):
        LoadOptions(workers=-1)
    with pytest.raises(ValueError):
        LoadOptions(users=0)
    with pytest.raises(ValueError):
        LoadOptions(duration_s=86401)


def test_text_values_as_the_command_line_gives_them() -> None:
    plan = LoadOptions.model_validate(
        {"users": "4", "spawn_rate": "4", "duration_s": "5", "wait_s": "0.05,0.2", "rate": "9"}
    )
    assert (plan.users, plan.spawn_rate, plan.duration_s, plan.rate) == (4, 4.0, 5.0, 9.0)
    assert plan.wait_s == (0.05, 0.2)
    assert LoadOptions.model_validate({"wait_s": "0.3"}).wait_s == (0.3, 0.3)
    assert plan.user_class == "ArrivalRateUser"
    for bad in ("abc", "0.5,x", "0.9,0.1", "-1,2"):
        with pytest.raises(ValidationError, match="wait_s"):
            LoadOptions.model_validate({"wait_s": bad})


def test_unknown_fields_are_errors() -> None:
    with pytest.raises(ValidationError, match="extra"):
        LoadOptions.model_validate({"usres": 3})
