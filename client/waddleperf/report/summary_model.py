"""The shape of ``summary.json``: what ``waddleperf report`` found, for the renderer and for
people's own tools. One versioned document (``schema``), generated as JSON Schema into
``docs/report-summary.schema.json`` (``python -m waddleperf.report.summary_model``).

Units are in the key names, as in result records: ``rtt_ms``, ``throughput_bps`` (bit/s),
``rss_bytes``; ratios are 0–1 (``loss_ratio``). Every time is an RFC 3339 UTC string with a
``Z`` suffix. A figure that could not be computed (no sample had it) is ``null``, never 0.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SUMMARY_SCHEMA: Literal["waddleperf.report.summary/1"] = "waddleperf.report.summary/1"
SCHEMA_ID = "https://waddleperf.example/schema/report-summary-1.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_UTC_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"

Time = str


def _time(description: str) -> Any:
    return Field(description=description, json_schema_extra={"pattern": _UTC_Z})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Percentiles(_Strict):
    """Latency figures over the records' latency values, milliseconds."""

    mean: float
    p50: float
    p95: float
    p99: float


class Figures(_Strict):
    """The figures of one group of probe records (an agent × server × kind, a country…)."""

    count: int = Field(ge=0, description="Probe records in the group.")
    failures: int = Field(ge=0, description="Records with status failed.")
    rtt_ms: Percentiles | None = Field(description="Latency, ms; null when no record had one.")
    loss_ratio: float | None = Field(description="Mean packet loss, 0–1.")
    jitter_ms: float | None = Field(description="Mean jitter, ms.")
    throughput_bps: float | None = Field(description="Mean throughput, bit/s.")


class ProbeRow(Figures):
    """Figures per agent × server × probe kind."""

    agent: str
    server: str
    kind: str


class CountryRow(Figures):
    """Figures per country (ISO code of the agent's public address; null: unknown)."""

    country: str | None


class AsnRow(Figures):
    """Figures per autonomous system of the agent's public address (null: unknown)."""

    asn: int | None
    org: str | None


class Geo(_Strict):
    """The probe figures grouped by the bundles' geo tags."""

    country: list[CountryRow]
    asn: list[AsnRow]


class SeriesPoint(_Strict):
    """One time bucket of a latency series (SmokePing-style spread of the records' latency)."""

    t: Time = _time("Start of the bucket.")
    count: int = Field(ge=0, description="Records in the bucket (0: an empty bucket).")
    p10: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p90: float | None
    loss_ratio: float | None = Field(description="Mean loss in the bucket, 0–1.")


class LatencySeries(_Strict):
    """Latency over time for one agent × server × kind. Every series of a summary has the same
    bucket edges (the same ``t`` list): one shared time axis."""

    agent: str
    server: str
    kind: str
    bucket_s: int = Field(gt=0, description="Bucket width, seconds.")
    points: list[SeriesPoint]


class Escalation(_Strict):
    """An AutoPerf tier change (``autoperf.event`` record)."""

    agent: str
    server: str
    t: Time = _time("When the tier changed.")
    from_tier: int
    to_tier: int
    reason: str


class LoadRun(_Strict):
    """One load run (``load.locust`` record)."""

    agent: str
    target: str
    framework: str | None = Field(description="django, flask… when known.")
    t: Time = _time("Start of the run.")
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    rps: float = Field(description="Requests per second.")
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ProfilePoint(_Strict):
    """One profiling sample of a target."""

    t: Time = _time("Sample time.")
    cpu_percent: float | None
    rss_bytes: int | None


class Profile(_Strict):
    """The CPU/memory profile of one profiled target, as seen by one agent."""

    agent: str
    target: str
    points: list[ProfilePoint]


class ComparisonRow(_Strict):
    """One figure of the two frameworks side by side; ratio is b / a."""

    metric: str
    a: float | None
    b: float | None
    ratio: float | None


class Comparison(_Strict):
    """Framework ``a`` against framework ``b`` (Django vs Flask) over their load runs."""

    a: str
    b: str
    rows: list[ComparisonRow]


class Thresholds(_Strict):
    """When a figure counts as regressed (current against baseline)."""

    avg_ratio: float = Field(gt=0, description="Mean latency regressed at current/baseline ≥ this.")
    p95_ratio: float = Field(gt=0, description="p95 latency regressed at current/baseline ≥ this.")
    error_rate_factor: float = Field(gt=0, description="Error rate regressed at × this.")


class RegressionRow(_Strict):
    """One figure of one agent × server × kind, baseline against current."""

    agent: str
    server: str
    kind: str
    metric: str
    baseline: float | None
    current: float | None
    change_ratio: float | None = Field(description="current / baseline (null: no baseline).")
    rule: str = Field(description="The rule applied, e.g. 'current ≥ 1.10 × baseline'.")
    regressed: bool


class Regressions(_Strict):
    """The regression check against a baseline."""

    thresholds: Thresholds
    regressed: bool = Field(description="True when any row regressed (the command exits 1).")
    rows: list[RegressionRow]


class SkippedBundle(_Strict):
    """A bundle left out of the analysis, and why."""

    source: str = Field(description="Where it was read from: a path or s3://bucket/key.")
    reason: str


class DataQuality(_Strict):
    """Every bundle that was not analysed: corrupt, truncated, unknown version, duplicate."""

    skipped: int = Field(ge=0)
    bundles: list[SkippedBundle]


class Window(_Strict):
    """First and last record time analysed (null: no records)."""

    first: Time | None = _time("Earliest record start.")
    last: Time | None = _time("Latest record start.")


class Totals(_Strict):
    """Counts over what was analysed (after the filters)."""

    bundles: int = Field(ge=0)
    results: int = Field(ge=0, description="Probe records.")
    agents: int = Field(ge=0)
    servers: int = Field(ge=0)
    events: int = Field(ge=0, description="Escalation events.")
    load_runs: int = Field(ge=0)


class Summary(_Strict):
    """``summary.json`` written by ``waddleperf report``."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, title="WaddlePerf report summary"
    )

    schema_: Literal["waddleperf.report.summary/1"] = Field(
        default=SUMMARY_SCHEMA, alias="schema", description="Version of this document."
    )
    generated_at: Time = _time("When the report was made.")
    sources: list[str]
    filters: dict[str, JsonValue] = Field(description="The filters given, by flag name.")
    window: Window
    totals: Totals
    probes: list[ProbeRow]
    geo: Geo
    latency_series: list[LatencySeries]
    escalations: list[Escalation]
    load: list[LoadRun]
    profiling: list[Profile]
    comparison: Comparison | None
    regressions: Regressions | None
    data_quality: DataQuality


def summary_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``summary.json``."""
    schema = Summary.model_json_schema(mode="validation", by_alias=True)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "$comment": "Generated from waddleperf.report.summary_model.Summary",
        **schema,
    }


def schema_text() -> str:
    """The committed file's exact text."""
    return json.dumps(summary_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised by the schema test through python -m
    sys.stdout.write(schema_text())
