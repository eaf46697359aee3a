"""A report from the bundles of real AutoPerf cycles (the agent against a real server on
loopback, escalating through the tiers), checked against the bundles' own records."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.report.conftest import report
from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.summary_schema import validate_summary
from waddleperf.localstack import LocalServer
from waddleperf.results.reader import read_bundle

TIGHT = {"tier1": {"thresholds": {"rtt_ms": 0.0001}}, "tier2": {"thresholds": {"rtt_ms": 0.0001}}}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_report_of_real_cycles(tmp_path: Path, server: LocalServer) -> None:
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "agent": {"id": "lab-1"},
                                 "tiers": quick_tiers(**TIGHT),
                                 "hysteresis": {"breaches": 1, "cooldown_s": 0}})  # fmt: skip
    for _ in range(2):
        proc = run.run("--once")
        assert proc.returncode == 0, proc.stderr
    bundles = run.bundles()
    assert len(bundles) == 2
    records = [r for b in bundles for r in read_bundle(b).results]
    out = tmp_path / "report"
    result = report(run.store, "--catalog", tmp_path / "c.duckdb", "--out", out)
    assert result.code == 0, result.stderr
    doc = result.summary(out)
    validate_summary(doc)
    probes = [r for r in records if r.kind.startswith("probe.")]
    assert doc["totals"]["bundles"] == 2 and doc["totals"]["results"] == len(probes)
    by_kind: dict[str, int] = {}
    for r in probes:
        by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
    assert {row["kind"]: row["count"] for row in doc["probes"]} == by_kind
    assert {row["server"] for row in doc["probes"]} == {"lo"}
    icmp = next(row for row in doc["probes"] if row["kind"] == "probe.icmp")
    rtts = [
        float(v)
        for r in probes
        if r.kind == "probe.icmp" and (v := r.metrics.get("rtt_avg_ms")) is not None
    ]
    assert icmp["rtt_ms"]["mean"] == pytest.approx(sum(rtts) / len(rtts), rel=1e-9)
    events = [r for r in records if r.kind == "autoperf.event"]
    assert len(doc["escalations"]) == len(events) >= 2
    assert [(e["from_tier"], e["to_tier"]) for e in doc["escalations"][:2]] == [(1, 2), (2, 3)]
    assert all(
        e["reason"] == r.info["reason"]
        for e, r in zip(doc["escalations"], sorted(events, key=lambda r: r.started_at), strict=True)
    )
    assert doc["latency_series"] and doc["latency_series"][0]["kind"] == "probe.icmp"
    throughput = [row for row in doc["probes"] if row["kind"] == "probe.iperf"]
    assert throughput and throughput[0]["throughput_bps"] > 1e6
