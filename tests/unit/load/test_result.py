"""A load run becomes a valid record of the one result model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waddleperf.load.plan import LoadOptions
from waddleperf.load.result import (
    during_load,
    exit_code,
    load_metrics,
    most_common_error,
    to_record,
)
from waddleperf.load.runner import LoadOutcome, LoadPlan
from waddleperf.results import Result, Status

PLAN = LoadPlan("http://127.0.0.1:9", LoadOptions(users=5, spawn_rate=5, duration_s=10))
SUMMARY = {
    "started_at": 1000.0,
    "finished_at": 1010.0,
    "requests": 500,
    "failures": 0,
    "workers": 2,
    "latency": {"latency_count": 500, "latency_avg_ms": 3.2, "latency_p95_ms": 9.1},
}


def _outcome(summary: dict[str, Any] | None) -> LoadOutcome:
    return LoadOutcome(summary, {"local": 0}, 999.0, 1011.0, progress=[{"requests": 1}])


def test_metrics_have_units_in_their_names() -> None:
    m = load_metrics(SUMMARY)
    assert m["throughput_rps"] == 50.0 and m["error_rate_pct"] == 0.0
    assert m["latency_samples_count"] == 500 and m["workers_count"] == 2


def test_ok_record_round_trips() -> None:
    samples = [
        {"source": "target", "time": 1.0, "cpu_pct": 10.0, "rss_mb": 50.0},
        {"source": "target", "time": 2.0, "cpu_pct": 30.0, "rss_mb": 60.0},
    ]
    rec = to_record(PLAN, _outcome(SUMMARY), samples)
    assert rec.status is Status.OK and rec.kind == "load.locust" and rec.tier == 3
    assert rec.metrics["target_cpu_avg_pct"] == 20.0
    assert rec.metrics["target_rss_max_mb"] == 60.0
    assert Result.from_json(rec.to_json()) == rec


def test_failures_degrade_and_missing_summary_fails(tmp_path: Path) -> None:
    bad = {**SUMMARY, "failures": 50}
    rec = to_record(PLAN, _outcome(bad))
    assert rec.status is Status.DEGRADED and "10.0%" in (rec.error or "")
    log = tmp_path / "locust-local.log"
    log.write_text("Traceback\nConnectionRefusedError: boom\n")
    out = _outcome(None)
    out.logs = {"local": log}
    rec = to_record(PLAN, out)
    assert rec.status is Status.FAILED and "boom" in (rec.error or "")


def test_profile_metrics_cover_the_load_window_only() -> None:
    samples = [
        {"source": "target", "time": 995.0, "cpu_pct": 0.0},  # Locust still starting
        {"source": "target", "time": 1005.0, "cpu_pct": 40.0},
        {"source": "target", "time": 1016.0, "cpu_pct": 0.0},  # mostly after the run
    ]
    rec = to_record(PLAN, _outcome(SUMMARY), samples)
    assert rec.metrics["target_cpu_avg_pct"] == 40.0
    assert during_load(samples, None) == samples


def test_samples_mostly_outside_the_run_are_left_out() -> None:
    # A 1 s sampler out of step with a run from 1000.0 to 1010.0: the sample at 1000.3 covers
    # 999.3–1000.3 (70 % idle start-up) and the one at 1010.3 covers 1009.3–1010.3 (70 % in).
    times = [999.3 + i for i in range(13)]  # 999.3 … 1011.3
    samples = [{"source": "target", "time": t, "cpu_pct": 50.0} for t in times]
    kept = [s["time"] for s in during_load(samples, SUMMARY)]
    assert [round(t, 1) for t in kept] == [round(1001.3 + i, 1) for i in range(10)]


def test_a_run_where_every_request_failed_fails_and_exits_1() -> None:
    errors = [
        {"name": "/", "error": "HTTPError('404 Client Error')", "occurrences": 480},
        {"name": "/api", "error": "ConnectionRefusedError(111)", "occurrences": 20},
    ]
    rec = to_record(PLAN, _outcome({**SUMMARY, "failures": 500, "errors": errors}))
    assert rec.status is Status.FAILED and exit_code(rec) == 1
    assert rec.error == (
        "every one of the 500 requests to http://127.0.0.1:9 failed"
        " (most often: /: HTTPError('404 Client Error') ×480)"
    )
    # one request through is a measurement (degraded), and so is a clean run
    almost = to_record(PLAN, _outcome({**SUMMARY, "failures": 499}))
    assert almost.status is Status.DEGRADED and exit_code(almost) == 0
    assert exit_code(to_record(PLAN, _outcome(SUMMARY))) == 0
    assert exit_code(to_record(PLAN, _outcome({**SUMMARY, "requests": 0}))) == 1


def test_most_common_error_names_the_endpoint_and_the_count() -> None:
    assert most_common_error([]) is None
    assert most_common_error([{"name": "/x", "error": "boom", "occurrences": 3}]) == "/x: boom ×3"
