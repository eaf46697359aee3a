"""Results: the one record schema every measurement becomes (model, JSON Schema)."""

from __future__ import annotations

from waddleperf.results.model import (
    SAMPLES_CAP,
    SCHEMA_VERSION,
    MetricValue,
    Result,
    Sample,
    Status,
    new_run_id,
    utc_now,
)

__all__ = [
    "SAMPLES_CAP",
    "SCHEMA_VERSION",
    "MetricValue",
    "Result",
    "Sample",
    "Status",
    "new_run_id",
    "utc_now",
]
