"""The result record: what every probe, load run, profiling sample and escalation event becomes.

One versioned schema (``schema_version``). Units live in metric names (``rtt_avg_ms``,
``loss_pct``); a metric that could not be measured is ``null`` with the reason in ``error`` —
never a silent zero. Timestamps are UTC and serialise as RFC 3339 with a ``Z`` suffix.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_serializer,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Literal["1.0"] = "1.0"
#: Most samples a record carries; the rest are counted in ``samples_dropped``.
SAMPLES_CAP = 10_000

#: Unit suffixes a metric name must end with (the unit is part of the name).
METRIC_UNITS: dict[str, str] = {
    "ns": "ns",
    "us": "µs",
    "ms": "ms",
    "s": "s",
    "pct": "%",
    "bps": "bit/s",
    "kbps": "kbit/s",
    "mbps": "Mbit/s",
    "bytes": "bytes",
    "kb": "KiB",
    "mb": "MiB",
    "days": "days",
    "rps": "req/s",
    "rpm": "round trips/min",
    "pps": "packets/s",
    "count": "",
    "code": "",
    "ratio": "",
}
METRIC_NAME_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*_(" + "|".join(METRIC_UNITS) + r")$"
_UTC_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"

MetricValue = float | int | None
Scalar = str | int | float | bool | None
#: One observation (a ping reply, a connect attempt): flat, scalar values only.
Sample = dict[str, Scalar]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]


class Status(StrEnum):
    """Outcome of a measurement."""

    OK = "ok"  # measured everything asked for
    DEGRADED = "degraded"  # measured, but part failed (some loss, some attempts refused)
    FAILED = "failed"  # the target could not be measured at all
    # Stopped by the user (Ctrl-C) before the end: the figures cover the part that ran.
    INTERRUPTED = "interrupted"


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (microsecond resolution)."""
    return datetime.now(UTC)


def new_run_id() -> str:
    """A fresh run identifier (32 hex characters, UUID4)."""
    return uuid.uuid4().hex


def default_agent() -> str:
    """The agent name: ``WADDLEPERF_AGENT`` from the environment, else this host's name."""
    return os.environ.get("WADDLEPERF_AGENT") or socket.gethostname()


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, e.g. ``2026-11-21T23:42:41.123456Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def metric_unit(name: str) -> str:
    """The human unit of a metric, read from its name's suffix (``rtt_avg_ms`` → ``ms``)."""
    return METRIC_UNITS.get(name.rsplit("_", 1)[-1], "")


class Result(BaseModel):
    """One measurement record (schema version 1.0). See docs/results.md, field by field."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        title="WaddlePerf result",
        json_schema_extra={"$comment": "Generated from waddleperf.results.model.Result"},
    )

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    kind: str = Field(pattern=KIND_PATTERN, description='What was measured, e.g. "probe.icmp".')
    target: str = Field(min_length=1, description="What was measured against, as given.")
    started_at: AwareDatetime = Field(
        description="UTC, RFC 3339 with Z.", json_schema_extra={"pattern": _UTC_Z}
    )
    finished_at: AwareDatetime = Field(
        description="UTC, RFC 3339 with Z.", json_schema_extra={"pattern": _UTC_Z}
    )
    agent: str = Field(default_factory=default_agent, min_length=1)
    tier: int | None = Field(default=None, ge=0, description="AutoPerf tier, null when manual.")
    run_id: str = Field(default_factory=new_run_id, min_length=1)
    params: dict[str, JsonValue] = Field(default_factory=dict, description="Options used.")
    metrics: dict[MetricName, MetricValue] = Field(
        default_factory=dict,
        description="Named numbers; the unit is the name's suffix.",
        json_schema_extra={"additionalProperties": False},
    )
    info: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Non-numeric facts observed (TLS version, resolved address, rcode).",
    )
    samples: list[Sample] | None = Field(default=None, max_length=SAMPLES_CAP)
    samples_dropped: int = Field(default=0, ge=0, description="Samples left out by the cap.")
    status: Status
    error: str | None = Field(default=None, description="Why not ok, for a person to read.")
    raw: str | dict[str, Any] | None = Field(
        default=None, description="The reference tool's own output, where one was used."
    )

    @field_validator("started_at", "finished_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("metrics", mode="before")
    @classmethod
    def _numbers_only(cls, value: Any) -> Any:
        for name, number in dict(value).items():
            # bool is an int subclass; True as "1" would be a silent lie.
            if isinstance(number, bool):
                raise ValueError(f"metric {name!r} is a boolean, not a number")
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(f"metric {name!r} is not finite")
        return value

    @field_validator("error")
    @classmethod
    def _error_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("error must be a sentence or null, not blank")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Result:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        if self.status is not Status.OK and self.error is None:
            raise ValueError(f"status {self.status.value} needs an error saying why")
        missing = sorted(name for name, number in self.metrics.items() if number is None)
        if missing and self.error is None:
            raise ValueError(f"metrics {missing} are null but error gives no reason")
        return self

    @field_serializer("started_at", "finished_at")
    def _serialise_time(self, value: datetime) -> str:
        return format_time(value)

    @property
    def duration_s(self) -> float:
        """Wall-clock duration of the measurement in seconds."""
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self, indent: int | None = None) -> str:
        """The record as JSON text (every field present, nulls included)."""
        return self.model_dump_json(indent=indent)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready Python data."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> Result:
        """Parse and validate a record; raises pydantic.ValidationError when it does not fit."""
        return cls.model_validate_json(text)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Validate JSON-ready data as a record."""
        return cls.model_validate(data)


def cap_samples(samples: list[Sample], cap: int = SAMPLES_CAP) -> tuple[list[Sample], int]:
    """Keep the first ``cap`` samples; return them and how many were dropped."""
    if len(samples) <= cap:
        return samples, 0
    return samples[:cap], len(samples) - cap
