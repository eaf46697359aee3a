"""Comparison rows and regression rules (pure)."""

from __future__ import annotations

import json

import pytest

from waddleperf.load.compare import Rules, compare, overhead, regressions, report, table_lines
from waddleperf.results.model import Result, Status, utc_now

A = {
    "throughput_rps": 100.0,
    "latency_avg_ms": 10.0,
    "latency_p95_ms": 20.0,
    "error_rate_pct": 1.0,
    "target_cpu_avg_pct": 40.0,
    "target_rss_max_mb": 100.0,
}


def test_equal_runs_do_not_regress() -> None:
    result = compare(A, dict(A))
    assert not result.regressed
    assert all(r.ratio == pytest.approx(1.0) for r in result.rows if r.a)


def test_default_rules_catch_each_kind() -> None:
    b = {**A, "latency_avg_ms": 11.5, "latency_p95_ms": 24.5, "error_rate_pct": 2.5}
    found = regressions(A, b, Rules())
    assert len(found) == 3
    assert any("average latency" in f for f in found)
    assert any("p95" in f for f in found)
    assert any("error rate" in f for f in found)


def test_within_limits_is_fine() -> None:
    b = {**A, "latency_avg_ms": 10.9, "latency_p95_ms": 23.9, "error_rate_pct": 1.9}
    assert regressions(A, b, Rules()) == []


def test_errors_from_zero_need_the_floor() -> None:
    a = {**A, "error_rate_pct": 0.0}
    assert regressions(a, {**a, "error_rate_pct": 0.05}, Rules()) == []
    assert regressions(a, {**a, "error_rate_pct": 0.5}, Rules())


def test_rules_parse_and_switch_off() -> None:
    rules = Rules.parse(["avg=1.5", "p95=off", "throughput=0.9"])
    assert rules.latency_avg_ratio == 1.5 and rules.latency_p95_ratio is None
    b = {**A, "latency_p95_ms": 100.0, "throughput_rps": 80.0}
    assert regressions(A, b, rules) == ["throughput 80.0 req/s < 0.9x 100.0 req/s"]
    for bad in ("avg", "speed=2", "avg=fast"):
        with pytest.raises(ValueError):
            Rules.parse([bad])


def test_overhead_reports_cpu_points_and_rss() -> None:
    b = {**A, "target_cpu_avg_pct": 50.0, "target_rss_max_mb": 130.0}
    got = overhead(A, b)
    assert got == {"cpu_overhead_pct": 10.0, "cpu_per_request_ratio": 1.25, "rss_overhead_mb": 30.0}


def test_missing_metrics_give_none_not_errors() -> None:
    result = compare({"latency_avg_ms": 1.0}, {})
    assert result.rows[0].b is None and result.rows[0].ratio is None
    assert overhead({}, {})["cpu_overhead_pct"] is None


def _record(run_id: str, target: str) -> Result:
    now = utc_now()
    return Result(kind="load.locust", target=target, started_at=now, finished_at=now,
                  run_id=run_id, status=Status.OK)  # fmt: skip


def test_report_names_both_runs_and_every_rule() -> None:
    b = {**A, "latency_avg_ms": 11.5}
    cmp = compare(A, b, Rules(), "plain", "apm")
    extra = overhead(A, b)
    doc = report(cmp, extra, Rules(), _record("r-a", "http://a"), _record("r-b", "http://b"))
    assert doc["a"] == {"name": "plain", "run_id": "r-a", "target": "http://a"}
    assert doc["b"] == {"name": "apm", "run_id": "r-b", "target": "http://b"}
    assert [r["metric"] for r in doc["rows"]] == [r.metric for r in cmp.rows]
    assert doc["regressions"] == cmp.regressions and len(doc["regressions"]) == 1
    assert doc["rules"]["latency_avg_ratio"] == 1.1 and doc["overhead"] == extra
    assert json.loads(json.dumps(doc)) == doc  # plain JSON, as comparison.json holds it


def test_table_lines_show_each_row_and_the_verdict() -> None:
    b = {**A, "latency_p95_ms": 30.0}
    lines = table_lines(compare(A, b, Rules(), "A", "B"), {"cpu_overhead_pct": None})
    assert lines[0].split() == ["metric", "A", "B", "B/A"]
    p95 = next(line for line in lines if line.startswith("latency p95 (ms)"))
    assert p95.split()[-3:] == ["20.000", "30.000", "1.500"]
    assert lines[-2].split() == ["cpu_overhead_pct", "-"]
    assert lines[-1].startswith("REGRESSION: p95 latency 30.000 ms > 1.2x 20.000 ms")
    assert table_lines(compare(A, dict(A)), {})[-1] == "no regression"
