"""``waddleperf report`` of a lab AutoPerf run's bundles, run from the host (the report needs no
network), held against the bundles themselves (read with the project's bundle reader) and
against what the lab did to the packets: the escalations equal the bundles' event records, the
report's tier timeline shows at the end of every cycle the highest tier its manifest lists, and
each latency bucket's quantiles (median and bands) track the delayers' holds of its records.
The page is then opened in Chromium offline (no console error, no request but the file, every
chart drawn).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.lab.accuracy import Check, off, print_checks, tolerance_ms
from tests.lab.netlab.services import WADDLEPERF
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
from waddleperf.report.render.charts import Chart
from waddleperf.results.reader import Bundle, read_bundle

#: The latency chart's kind in a run with icmp probes, and that kind's latency figure.
SERIES_KIND, SERIES_METRIC = "probe.icmp", "rtt_avg_ms"


@dataclass(frozen=True)
class Phase:
    """A stretch of the run under one impairment: the records started before ``until`` (None:
    to the end) and after the previous phase, whose round trips the delayers held
    ``hold_ms`` (``accuracy.hold_ms(lab, "p50")`` over the stretch)."""

    until: datetime | None
    hold_ms: float


def check_report(
    results: Path,
    out: Path,
    phases: Sequence[Phase],
    cycles: int,
    changes: Sequence[tuple[int, int]],
) -> None:
    """Report ``results`` into ``out`` and check it (see the module's docstring): ``cycles``
    bundles whose tier changes (from, to) are ``changes``, as the agent's summaries said."""
    began = time.monotonic()
    doc = _report(results, out)
    reported = time.monotonic()
    bundles = sorted((read_bundle(p) for p in results.rglob("*.tar.gz")),
                     key=lambda b: b.manifest.started_at)  # fmt: skip
    assert len(bundles) == cycles, [b.path.name for b in bundles]
    assert doc["totals"]["bundles"] == cycles and doc["data_quality"]["skipped"] == 0, doc
    events = _events(bundles)
    assert [(e[3], e[4]) for e in events] == list(changes), events
    assert doc["totals"]["events"] == len(events)
    assert [_parsed(e) for e in doc["escalations"]] == events
    report = sections.build(doc)
    _check_tiers(report.charts, bundles)
    _check_series(doc, bundles, phases)
    with launch() as browser, open_page(browser, out / "report.html") as visit:
        drawn_charts(visit, [c.key for c in report.charts], data_colours(report))
        print("screenshot:", keep_screenshot(visit.page, "report", folder="lab-report"))
        assert visit.errors == [] and visit.requests == []
    end = time.monotonic()
    print(f"report {reported - began:.1f} s, checks and page {end - reported:.1f} s")


def _report(results: Path, out: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
    argv = [WADDLEPERF, "report", str(results), "--out", str(out),
            "--catalog", str(out / "catalog.duckdb")]  # fmt: skip
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    doc: dict[str, Any] = json.loads((out / "summary.json").read_text())
    validate_summary(doc)
    return doc


def _events(bundles: Sequence[Bundle]) -> list[tuple[datetime, str, str, int, int, str]]:
    """Every tier change the bundles' event records hold: (time, agent, server, from, to,
    reason), in time order."""
    found = []
    for b in bundles:
        for r in b.results:
            if r.kind == EVENT_KIND:
                i = r.info
                found.append((r.started_at, r.agent, str(i["server"]), int(str(i["from_tier"])),
                              int(str(i["to_tier"])), str(i["reason"])))  # fmt: skip
    return sorted(found)


def _parsed(e: dict[str, Any]) -> tuple[datetime, str, str, int, int, str]:
    return (datetime.fromisoformat(e["t"]), e["agent"], e["server"], e["from_tier"],
            e["to_tier"], e["reason"])  # fmt: skip


def _tier_at(chart: Chart, label: str, t: float) -> float | None:
    (series,) = [s for s in chart.series if s.label == label]
    seen = [v for x, v in zip(chart.x, series.values, strict=True) if x <= t]
    return seen[-1] if seen else None


def _check_tiers(charts: Sequence[Chart], bundles: Sequence[Bundle]) -> None:
    """At the end of every cycle the report's timeline shows, for each server the cycle
    probed, the highest tier the cycle's manifest lists — and its records ran (an escalation
    runs the new tier in the same cycle; a clearing comes after tier 1, so that cycle's
    highest tier is 1)."""
    (chart,) = [c for c in charts if c.kind == "tiers"]
    for b in bundles:
        ran = {(r.agent, str(r.info.get("server") or r.target), r.tier) for r in b.results
               if r.kind.startswith("probe.")}  # fmt: skip
        top = max(b.manifest.tiers)
        for agent, server in {(a, s) for a, s, _ in ran}:
            tiers = {t for a, s, t in ran if (a, s) == (agent, server)}
            assert max(t or 0 for t in tiers) == top, (b.path.name, tiers, b.manifest.tiers)
            shown = _tier_at(chart, f"{agent} → {server}", b.manifest.finished_at.timestamp())
            assert shown == top, (b.path.name, shown, b.manifest.tiers)


def _check_series(doc: dict[str, Any], bundles: Sequence[Bundle], phases: Sequence[Phase]) -> None:
    """Each bucket of the latency series counts exactly the bundles' records started in it,
    its p10 … p90 are theirs, and each is within the promised tolerance of the same quantile
    of what the delayers held those records' round trips (the path's own round trip, ~0.05 ms
    on veth, is inside the tolerance): a bucket holding delayed and cleared cycles shows the
    delay in its upper band and the cleared path in its lower one."""
    (series,) = doc["latency_series"]
    assert series["kind"] == SERIES_KIND, series
    records = [r for b in bundles for r in b.results if r.kind == SERIES_KIND]
    width = timedelta(seconds=series["bucket_s"])
    checks: list[Check] = []
    for point in series["points"]:
        start = datetime.fromisoformat(point["t"])
        inside = [r for r in records if start <= r.started_at < start + width]
        assert point["count"] == len(inside), (point, len(inside))
        timed = [(float(v), _hold(phases, r.started_at)) for r in inside
                 if (v := r.metrics.get(SERIES_METRIC)) is not None]  # fmt: skip
        if not timed:
            assert point["p50"] is None, point
            continue
        for name, q in QUANTILES:
            measured = quantile([m for m, _ in timed], q)
            assert point[name] == pytest.approx(measured), (name, point, timed)
            truth = quantile([t for _, t in timed], q)
            checks.append((f"bucket {point['t']} {name}", point[name], truth, tolerance_ms(truth)))
    assert sum(p["count"] for p in series["points"]) == len(records)
    print_checks("report", checks)
    assert checks and off(checks) == [], checks


#: The series' quantiles (name in a bucket, fraction).
QUANTILES = (("p10", 0.1), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p90", 0.9))


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values`` with linear interpolation between closest ranks
    (DuckDB's ``quantile_cont``, numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _hold(phases: Sequence[Phase], t: datetime) -> float:
    for phase in phases:
        if phase.until is None or t < phase.until:
            return phase.hold_ms
    raise AssertionError(f"a record at {t} is after every phase")
