"""What load one run makes — who the users are, how many, for how long — as one model.

:class:`LoadOptions` is the one source of the plan's fields, defaults and validation: the
``waddleperf load`` flags are generated from it (``cli/load.py``), a tier-3 target of the
agent's configuration is one (``autoperf.config.LoadTarget`` adds the target's name, URL and
profiling), and the runner's :class:`~waddleperf.load.runner.LoadPlan` carries one beside
where the run happens (host, role). Pure: no I/O; pydantic, so import it inside a command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from waddleperf.load.profiles import MAX_DURATION_S, PROFILES, USER_CLASSES, Profile, Shape
from waddleperf.load.profiles import resolve_profile as _resolve

#: The names a field may take: the profiles and the user classes defined in ``profiles``.
_CHOICES: dict[str, Mapping[str, Any]] = {"profile": PROFILES, "user": USER_CLASSES}


def _names(choices: Any) -> str:
    return ", ".join(choices)


class LoadOptions(BaseModel):
    """The size and kind of one load run; ``rate`` set means the open (constant-arrival) model.

    ``users``, ``spawn_rate`` and ``duration_s`` override the named ``profile``'s; the sized
    result is :attr:`profile_spec`. Values may arrive as text (command-line flags): the model
    alone decides what is valid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = Field(
        default="light",
        description="light (10 users), medium (50), heavy (100), burst (200).",
    )
    users: int | None = Field(default=None, ge=1, description="Peak users (overrides the profile).")
    spawn_rate: float | None = Field(
        default=None, gt=0, description="Users started per second (overrides the profile)."
    )
    duration_s: float | None = Field(
        default=None, gt=0, le=MAX_DURATION_S, description="Run time (overrides the profile)."
    )
    user: str = Field(
        default="web", description="web (mixed), heavy, burst, database or endpoint (--path)."
    )
    shape: Shape = Field(default="constant", description="How the user count moves in the run.")
    rate: float | None = Field(
        default=None,
        gt=0,
        description="Open model: constant arrival rate, requests/s (CO-corrected).",
    )
    wait_s: tuple[float, float] | None = Field(
        default=None, description="Web user think time 'min,max' seconds."
    )
    path: str = Field(default="/", description="The path the endpoint user requests.")
    workers: int = Field(
        default=0, ge=0, description="Local Locust worker processes (0: one process)."
    )

    @field_validator("profile", "user")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        choices = _CHOICES[str(info.field_name)]
        if value not in choices:
            raise ValueError(
                f"unknown {info.field_name} {value!r}; choose one of {_names(choices)}"
            )
        return value

    @field_validator("wait_s", mode="before")
    @classmethod
    def _min_max(cls, value: Any) -> Any:
        # "0.5,1.5" (a flag) or "0.5" (both bounds); a list or pair as it is
        if isinstance(value, str):
            lo, _, hi = value.partition(",")
            return (lo.strip(), (hi or lo).strip())
        return value

    @field_validator("wait_s")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError(f"think time min,max must be 0 ≤ min ≤ max, got {value[0]},{value[1]}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> LoadOptions:
        if self.rate is not None and self.shape != "constant":
            # the open model fixes the arrival rate; a shape would move it in steps of workers
            raise ValueError("--rate (open model) runs at a constant rate: drop --shape")
        return self

    @property
    def profile_spec(self) -> Profile:
        """The named profile with this run's overrides: peak users, spawn rate, duration."""
        return _resolve(self.profile, self.users, self.spawn_rate, self.duration_s)

    @property
    def user_class(self) -> str:
        """The Locust class name: the open-model user whenever a rate is given."""
        return "ArrivalRateUser" if self.rate is not None else USER_CLASSES[self.user]
