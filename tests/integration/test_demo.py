"""``waddleperf demo`` — what ``make run`` does — end to end, as a person runs it; then
``waddleperf report`` of the bundles it stored, checked against the bundles' own records (read
with the project's bundle reader) and opened in Chromium, offline: no console error, no request
but the file, every chart drawn. Its screenshot is kept under ``.suite/artifacts/demo-report/``
(``$WPL_SUITE_DIR/artifacts`` when set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.report_browser import (
    data_colours,
    drawn_charts,
    keep_screenshot,
    launch,
    open_page,
)
from tests.support.summary_schema import validate_summary
from waddleperf.autoperf.events import EVENT_KIND
from waddleperf.report.render import sections
from waddleperf.results.reader import read_bundle

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_demo_runs_every_service_and_escalates_through_tier_3(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
    env["COLUMNS"] = "200"  # one table row per line, so the rows can be read back
    # Every process the demo starts inherits this mark, so leftovers can be found for sure.
    mark = uuid.uuid4().hex
    env["DEMO_TEST_MARK"] = mark
    run = subprocess.run(
        [WADDLEPERF, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=360
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 4}
    for service in ("HTTP echo", "LibreSpeed", "TCP echo", "UDP echo", "ICMP", "iperf3"):
        assert " ok " in rows[service], rows.get(service)
    assert "1 → 2" in out and "2 → 3" in out
    assert "load flask" in out
    bundles = list((tmp_path / "waddleperf-demo" / "results").rglob("*.tar.gz"))
    assert len(bundles) == 1
    with tarfile.open(bundles[0]) as tar:
        assert {"manifest.json", "results.ndjson", "profiling.ndjson"} <= set(tar.getnames())
    # Nothing the demo started outlives it (server, iperf3, gunicorn, Locust).
    assert [p.cmdline() for p in _marked(mark)] == []
    _check_report(tmp_path, tmp_path / "waddleperf-demo" / "results", env)


def _truth(bundles: list[Path]) -> dict[str, Any]:
    """What the demo's bundles hold, counted in plain Python from the project's bundle reader."""
    records = [r for path in bundles for r in read_bundle(path).results]
    probes = [r for r in records if r.kind.startswith("probe.")]
    return {
        "totals": {
            "bundles": len(bundles),
            "results": len(probes),
            "agents": len({r.agent for r in records}),
            "servers": len({str(r.info.get("server") or r.target) for r in probes}),
            "events": sum(r.kind == EVENT_KIND for r in records),
            "load_runs": sum(r.kind.startswith("load.") for r in records),
        },
        "kinds": dict(Counter(r.kind for r in probes)),
    }


def _check_report(tmp_path: Path, results: Path, env: dict[str, str]) -> None:
    out = tmp_path / "report"
    run = subprocess.run(
        [WADDLEPERF, "report", str(results), "--out", str(out),
         "--catalog", str(tmp_path / "catalog.duckdb")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    doc = json.loads((out / "summary.json").read_text())
    validate_summary(doc)
    truth = _truth(sorted(results.rglob("*.tar.gz")))
    assert doc["totals"] == truth["totals"]
    assert truth["totals"]["events"] >= 2 and truth["totals"]["load_runs"] >= 1
    assert {row["kind"]: row["count"] for row in doc["probes"]} == truth["kinds"]
    report = sections.build(doc)
    assert {c.kind for c in report.charts} >= {"latency", "tiers"}
    with launch() as browser, open_page(browser, out / "report.html") as visit:
        drawn_charts(visit, [c.key for c in report.charts], data_colours(report))
        print("screenshot:", keep_screenshot(visit.page, "report", folder="demo-report"))
        assert visit.errors == [] and visit.requests == []


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("DEMO_TEST_MARK") == mark:
                found.append(proc)
        except psutil.Error:
            continue
    return found
