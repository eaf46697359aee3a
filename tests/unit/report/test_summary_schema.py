"""docs/report-summary.schema.json is in step with the summary model, and it refuses drift."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.support.summary_schema import FILE, validate_summary
from waddleperf.report.summary_model import Summary, schema_text


def minimal() -> dict[str, Any]:
    figures = {
        "count": 2,
        "failures": 0,
        "rtt_ms": {"mean": 1.0, "p50": 1.0, "p95": 1.5, "p99": 1.6},
        "loss_ratio": 0.0,
        "jitter_ms": None,
        "throughput_bps": None,
    }
    return {
        "schema": "waddleperf.report.summary/1",
        "generated_at": "2026-11-21T10:00:00.000000Z",
        "sources": ["results/"],
        "filters": {"agent": ["a"]},
        "window": {"first": "2026-11-21T09:00:00.000000Z", "last": None},
        "totals": {
            "bundles": 1,
            "results": 2,
            "agents": 1,
            "servers": 1,
            "events": 0,
            "load_runs": 0,
        },
        "probes": [{"agent": "a", "server": "s", "kind": "probe.icmp", **figures}],
        "geo": {
            "country": [{"country": None, **figures}],
            "asn": [{"asn": 64500, "org": "x", **figures}],
        },
        "latency_series": [
            {
                "agent": "a",
                "server": "s",
                "kind": "probe.icmp",
                "bucket_s": 60,
                "points": [
                    {
                        "t": "2026-11-21T09:00:00.000000Z",
                        "count": 0,
                        "p10": None,
                        "p25": None,
                        "p50": None,
                        "p75": None,
                        "p90": None,
                        "loss_ratio": None,
                    }
                ],
            }
        ],
        "escalations": [],
        "load": [],
        "profiling": [],
        "comparison": None,
        "regressions": None,
        "data_quality": {"skipped": 0, "bundles": []},
    }


def test_committed_schema_matches_the_model() -> None:
    regen = "python -m waddleperf.report.summary_model > docs/report-summary.schema.json"
    assert FILE.read_text() == schema_text(), f"regenerate: {regen}"
    run = subprocess.run(
        [sys.executable, "-m", "waddleperf.report.summary_model"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout == FILE.read_text()


def test_schema_and_model_agree_on_a_summary() -> None:
    doc = minimal()
    validate_summary(doc)
    assert Summary.model_validate(doc).model_dump(mode="json", by_alias=True) == doc


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"schema": "waddleperf.report.summary/2"}, "schema"),
        ({"extra": 1}, "extra"),
        ({"window": {"first": "yesterday", "last": None}}, "first"),
        ({"data_quality": {"skipped": -1, "bundles": []}}, "skipped"),
        ({"totals": {"bundles": 1}}, "totals"),
    ],
)
def test_schema_refuses_drift(change: dict[str, Any], where: str) -> None:
    with pytest.raises(AssertionError, match=where):
        validate_summary({**minimal(), **change})
