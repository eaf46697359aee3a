"""The JSON Schemas committed in docs/: in step with the code, and met by what the writers
produce (the validators are tests.support.schemas, for the integration tests too)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.builders import archive_bytes, filled_writer, profiling_lines
from tests.support.schemas import (
    DOCS,
    bundle_documents,
    validate_manifest,
    validate_profiling_line,
    validate_record,
)
from waddleperf.profiling import ndjson
from waddleperf.results.manifest import Manifest
from waddleperf.results.schema import DOCS_FILES, SCHEMAS, ProfilingLine, schema_text


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_code(name: str) -> None:
    committed = (DOCS / DOCS_FILES[name]).read_text()
    regen = f"python -m waddleperf.results.schema {name} > docs/{DOCS_FILES[name]}"
    assert committed == schema_text(name), f"regenerate: {regen}"


def test_the_module_prints_each_schema_and_refuses_an_unknown_name() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "waddleperf.results.schema", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    assert run().stdout == schema_text("result")  # the documented default
    assert run("profiling").stdout == (DOCS / "profiling.schema.json").read_text()
    bad = run("points")
    assert bad.returncode == 2 and "result|manifest|profiling" in bad.stderr


def test_a_written_bundle_meets_the_committed_schemas() -> None:
    manifest, results, lines = bundle_documents(archive_bytes(filled_writer(None)))
    validate_manifest(manifest)
    assert "autoperf.escalation" in {r["kind"] for r in results}
    for record in results:
        validate_record(record)
    assert {line["type"] for line in lines} == {"Metric", "Point"}
    for line in lines:
        validate_profiling_line(line)


def test_manifest_schema_refuses_what_the_model_refuses() -> None:
    manifest, _, _ = bundle_documents(archive_bytes(filled_writer(None)))
    Manifest.model_validate(manifest)
    changes: list[tuple[dict[str, Any], str]] = [
        ({"bundle_format": 2}, "bundle_format"),
        ({"extra": 1}, "extra"),
        ({"status": "fine"}, "status"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"members": [{**manifest["members"][0], "sha256": "x"}]}, "sha256"),
    ]
    for change, where in changes:
        with pytest.raises(AssertionError, match=where):
            validate_manifest({**manifest, **change})


def test_profiling_lines_of_every_kind_validate() -> None:
    samples = [
        {"source": "agent", "time": 1_700_000_000.25, "cpu_pct": 3, "io_read_mb": 0.5},
        {"source": "target", "time": 1_700_000_001, "method": "stats", "rss_mb": 80.0},
    ]
    lines = [json.loads(t) for t in ndjson.lines(samples, run="r", tags={"agent": "a"})]
    assert [line["data"]["type"] for line in lines if line["type"] == "Metric"] == [
        "gauge",
        "counter",
        "gauge",
    ]
    for line in [*lines, *(json.loads(t) for t in profiling_lines())]:
        validate_profiling_line(line)
        ProfilingLine.model_validate(line)  # the model and its schema agree


def test_k6s_own_output_validates() -> None:
    # Lines as ``k6 run --out json`` writes them (k6 v0.50: thresholds, submetrics, metadata).
    metric = {"type": "Metric", "metric": "http_req_duration",
              "data": {"name": "http_req_duration", "type": "trend", "contains": "time",
                       "thresholds": ["p(95)<500"], "submetrics": None}}  # fmt: skip
    point = {"metric": "http_req_duration", "type": "Point",
             "data": {"time": "2026-11-21T23:42:41.123456789+01:00", "value": 12.5,
                      "tags": {"method": "GET", "status": "200"}, "metadata": {}}}  # fmt: skip
    validate_profiling_line(metric)
    validate_profiling_line(point)


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ({"type": "Sample", "metric": "m", "data": {}}, "type"),
        ({"type": "Point", "metric": "m", "data": {"time": "2026-11-21T23:00:00Z", "value": 1}},
         "tags"),
        ({"type": "Point", "metric": "m",
          "data": {"time": "2026-11-21T23:00:00Z", "value": True, "tags": {}}}, "value"),
        ({"type": "Point", "metric": "m",
          "data": {"time": "soon", "value": 1, "tags": {}}}, "time"),
        ({"type": "Point", "metric": "m",
          "data": {"time": "2026-11-21T23:00:00Z", "value": 1, "tags": {"n": 1}}}, "n"),
        ({"type": "Metric", "metric": "m", "data": {"name": "m", "type": "histogram"}}, "type"),
        ({"type": "Metric", "metric": "", "data": {"name": "m", "type": "gauge"}}, "metric"),
    ],
)  # fmt: skip
def test_profiling_schema_refuses_broken_lines(line: dict[str, Any], where: str) -> None:
    with pytest.raises(AssertionError, match=where):
        validate_profiling_line(line)
