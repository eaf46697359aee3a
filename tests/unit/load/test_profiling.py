"""Profiling: k6 NDJSON, tolerant /stats parsing, summaries (pure parts)."""

from __future__ import annotations

import json
import re

from waddleperf.profiling import ndjson
from waddleperf.profiling.sampler import find_stats_entry, parse_stats_entry
from waddleperf.profiling.summary import avg_max_min, profile_metrics, slug
from waddleperf.results.model import METRIC_NAME_PATTERN

SAMPLES = [
    {
        "source": "target",
        "time": 1_700_000_000.0,
        "cpu_pct": 50.0,
        "rss_mb": 10.0,
        "ctx_switches_count": 5,
    },
    {
        "source": "target",
        "time": 1_700_000_001.0,
        "cpu_pct": 100.0,
        "rss_mb": 12.0,
        "ctx_switches_count": 9,
    },
]


def test_k6_ndjson_declares_metrics_once_then_points() -> None:
    out = [json.loads(line) for line in ndjson.lines(SAMPLES, run="r1", tags={"label": "x"})]
    metrics = [o for o in out if o["type"] == "Metric"]
    points = [o for o in out if o["type"] == "Point"]
    assert sorted(m["metric"] for m in metrics) == ["cpu_pct", "ctx_switches_count", "rss_mb"]
    kinds = {m["metric"]: m["data"]["type"] for m in metrics}
    assert kinds["ctx_switches_count"] == "counter" and kinds["cpu_pct"] == "gauge"
    assert len(points) == 6
    p = points[0]
    assert p["data"]["time"] == "2023-11-14T22:13:20Z"
    assert p["data"]["tags"] == {"target": "target", "method": "psutil", "run": "r1", "label": "x"}
    indexed = list(enumerate(out))
    first_point = {o["metric"]: i for i, o in reversed(indexed) if o["type"] == "Point"}
    first_decl = {o["metric"]: i for i, o in enumerate(out) if o["type"] == "Metric"}
    assert all(first_decl[m] < first_point[m] for m in first_decl)


def test_stats_document_shapes_are_read_tolerantly() -> None:
    doc = {
        "server": {"cpu_pct": 1.0},
        "targets": [
            {
                "name": "django",
                "found": True,
                "cpu_pct": 12.5,
                "rss_mb": 80.0,
                "io": {"read_bytes": 1048576, "write_bytes": 0},
                "ctx_switches": {"voluntary": 3, "involuntary": 4},
                "threads": 9,
            },
            {"name": "gone", "found": False, "error": "no process"},
        ],
    }
    entry = find_stats_entry(doc, "django")
    assert entry is not None
    sample = parse_stats_entry("target", entry)
    assert sample is not None
    assert sample["cpu_pct"] == 12.5 and sample["io_read_mb"] == 1.0
    assert sample["ctx_switches_count"] == 7 and sample["threads_count"] == 9
    assert sample["uss_mb"] is None  # missing keys become None, not errors
    assert parse_stats_entry("t", find_stats_entry(doc, "gone") or {}) is None
    assert find_stats_entry(doc, "server") == {"cpu_pct": 1.0}
    assert find_stats_entry(
        {"processes": {"flask": {"cpu_percent": 150, "cpu_count": 2}}}, "flask"
    ) == {"cpu_percent": 150, "cpu_count": 2}
    raw = parse_stats_entry("t", {"cpu_percent": 150, "cpu_count": 2})
    assert raw is not None and raw["cpu_pct"] == 75.0 and raw["cpu_core_ratio"] == 1.5
    assert find_stats_entry({"targets": "garbage"}, "x") is None


def test_summary_metrics_fit_the_result_model_names() -> None:
    assert avg_max_min([1.0, 2.0, 6.0]) == {"avg": 3.0, "max": 6.0, "min": 1.0}
    assert avg_max_min([]) is None
    metrics = profile_metrics([*SAMPLES, {"source": "Gen-1 (local)", "time": 0, "cpu_pct": 3}])
    assert metrics["target_cpu_avg_pct"] == 75.0
    assert metrics["target_cpu_max_pct"] == 100.0 and metrics["target_rss_min_mb"] == 10.0
    assert all(re.match(METRIC_NAME_PATTERN, name) for name in metrics), metrics
    assert slug("Gen-1 (local)") == "gen_1_local" and slug("9x") == "s_9x"
