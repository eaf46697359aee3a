"""``waddleperf autoperf`` end to end against the real server (and the Flask target) on loopback."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.schemas import (
    bundle_documents,
    validate_manifest,
    validate_profiling_line,
    validate_record,
)
from tests.support.targets import Running
from waddleperf.autoperf.loadrun import LOAD_KIND
from waddleperf.localstack import LocalServer
from waddleperf.results.reader import read_bundle

STATS_FLASK = "stats:\n  targets:\n    - {{name: flask, port: {port}}}\n"
TIGHT = {"tier1": {"thresholds": {"rtt_ms": 0.0001}}, "tier2": {"thresholds": {"rtt_ms": 0.0001}}}


def records(path: Path) -> list[Any]:
    return read_bundle(path).results


def validate_documents(bundle: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Check every document of a bundle the agent wrote against the schemas in docs/: each
    results.ndjson line (probe results, load records, autoperf.event escalations), the
    manifest and each profiling.ndjson line. Returns the result records and profiling lines."""
    manifest, results, profiling = bundle_documents(bundle.read_bytes())
    validate_manifest(manifest)
    for record in results:
        validate_record(record)
    for line in profiling:
        validate_profiling_line(line)
    return results, profiling


def test_config_errors_name_the_key_and_exit_2(tmp_path: Path) -> None:
    run = write_agent(tmp_path, {"tiers": {"tier1": {"thresholds": {"rtt": 5}}}})
    proc = run.run("--once")
    assert proc.returncode == 2
    assert "tiers.tier1.thresholds.rtt" in proc.stderr
    env_typo = write_agent(tmp_path, {}).run("--once", WADDLEPERF_TIERS_INTERVAL="5")
    assert env_typo.returncode == 2 and "WADDLEPERF_TIERS_INTERVAL" in env_typo.stderr
    assert write_agent(tmp_path, {}).run("--force-tier", "4").returncode == 2


def test_once_escalates_to_tier3_with_load_and_profiling(
    tmp_path: Path, server_factory: Callable[..., LocalServer], flask_target: Running
) -> None:
    # The server reports the Flask target's processes (gunicorn, found by its port) in /stats.
    server = server_factory(config_yaml=STATS_FLASK.format(port=flask_target.port))
    target = {"name": "flask", "url": flask_target.url, "users": 2, "spawn_rate": 2,
              "duration_s": 3, "stats_server": "lo"}  # fmt: skip
    tiers = quick_tiers(**TIGHT, tier3={"load": True})
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "targets": [target],
                                 "tiers": tiers, "agent": {"id": "agent-1",
                                                           "labels": {"site": "lab"}}})  # fmt: skip
    proc = run.run("--once", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["max_tier"] == 3 and summary["agent"] == "agent-1"
    assert [(e["from_tier"], e["to_tier"]) for e in summary["events"]] == [(1, 2), (2, 3)]
    (bundle,) = run.bundles()
    assert run.store in bundle.parents  # uploaded to the local store
    content = read_bundle(bundle)
    kinds = [(r.kind, r.tier) for r in content.results]
    assert (LOAD_KIND, 3) in kinds and ("probe.iperf", 3) in kinds and ("probe.udp", 2) in kinds
    documents, profiling = validate_documents(bundle)
    assert {"autoperf.event", LOAD_KIND} <= {d["kind"] for d in documents}
    assert len(profiling) == len(content.profiling)
    events = [r for r in content.results if r.kind == "autoperf.event"]
    # Every RTT breaches the 0.1 µs threshold; the event names the worst one, which is the
    # largest round trip the tier-1 records of this bundle hold (rule rtt_ms: icmp and udp
    # rtt_avg_ms, tcp connect_avg_ms), with that record's value.
    watched = {"probe.icmp": "rtt_avg_ms", "probe.udp": "rtt_avg_ms", "probe.tcp": "connect_avg_ms"}
    tier1 = [(r, watched[r.kind]) for r in content.results if r.tier == 1 and r.kind in watched]
    rtts = [(float(v), m) for r, m in tier1 if (v := r.metrics.get(m)) is not None]
    worst_value, worst_metric = max(rtts)
    assert (events[0].info["metric"], events[0].info["value"]) == (worst_metric, worst_value)
    assert events[0].info["threshold"] == 0.0001 and events[0].info["server"] == "lo"
    load = next(r for r in content.results if r.kind == LOAD_KIND)
    assert load.status.value == "ok" and load.metrics["requests_count"]
    # The run was made in the agent's run context, named as the agent calls it.
    assert (load.agent, load.tier, load.run_id) == ("agent-1", 3, summary["run_id"])
    assert load.info == {"server": "lo", "step": "load flask"}
    assert load.params["profile"] == {"name": "light", "users": 2, "spawn_rate": 2.0,
                                      "duration_s": 3.0}  # fmt: skip
    assert any(p["type"] == "Point" for p in content.profiling)
    # The agent itself is profiled beside the load generator and the target (through /stats).
    points = [p for p in content.profiling if p["type"] == "Point"]
    sampled = {p["data"]["tags"]["target"] for p in points}
    assert {"agent", "generator", "target"} <= sampled, sampled
    target_points = {
        p["metric"]: p["data"]["value"] for p in points if p["data"]["tags"]["target"] == "target"
    }
    assert target_points.get("processes_count", 0) >= 1, target_points  # gunicorn and its worker
    assert target_points.get("rss_mb", 0) > 0, target_points
    cycle = json.loads(content.raw["autoperf-cycle.json"])
    assert cycle["labels"] == {"site": "lab"} and content.manifest.geo.get("scope")


def test_clear_cycle_stays_at_tier1(tmp_path: Path, server: LocalServer) -> None:
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "tiers": quick_tiers()})
    proc = run.run("--once")
    assert proc.returncode == 0, proc.stderr
    assert "AutoPerf cycle 1" in proc.stdout and "why" in proc.stdout
    (bundle,) = run.bundles()
    assert {r.tier for r in records(bundle)} == {1}
    validate_documents(bundle)
    # No speedtest ran, so the agent asked the server's getIP where it stands: on loopback.
    assert read_bundle(bundle).manifest.geo["scope"] == "loopback"


def test_second_agent_on_the_same_spool_exits_3(tmp_path: Path, server: LocalServer) -> None:
    run = write_agent(tmp_path, {"servers": [server_entry(server)],
                                 "tiers": quick_tiers(interval_s=60)})  # fmt: skip
    first = run.popen()
    try:
        deadline = time.monotonic() + 20
        while not (run.spool / ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        second = run.run("--once", timeout=30)
        assert second.returncode == 3
        assert "in use by another agent" in second.stderr and str(first.pid) in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(10)
    assert first.returncode == 0


def _locusts_of(agent_pid: int) -> list[psutil.Process]:
    # the agent's load work directory (hence every Locust argv) is named after its pid
    mark = f"waddleperf-autoperf-{agent_pid}"
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "locust" in cmd and mark in cmd:
            found.append(proc)
    return found


@pytest.mark.parametrize("where", ["probe", "load"])
def test_sigterm_ends_the_step_within_5s_and_writes_the_cycle(
    tmp_path: Path, server: LocalServer, flask_target: Running, where: str
) -> None:
    long_udp = {"probe": "udp", "label": "udp_forever",
                "options": {"count": 100000, "interval_s": 0.01}}  # fmt: skip
    target = {"name": "flask", "url": flask_target.url, "users": 2, "duration_s": 120}
    tiers = quick_tiers(tier2={"probes": [long_udp]}, tier3={"load": True, "probes": []})
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "targets": [target],
                                 "tiers": tiers})  # fmt: skip
    agent = run.popen("--force-tier", "2" if where == "probe" else "3")
    assert agent.stderr is not None and agent.stdout is not None
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(agent.stderr or []), daemon=True)
    reader.start()

    def in_step() -> bool:
        # the step has begun: the forced transition is logged (the probe runs right after it),
        # or Locust is up. A fixed sleep was not enough on a busy machine: a SIGTERM during the
        # agent's start-up ends it before any cycle, with nothing to show.
        if where == "load":
            return bool(_locusts_of(agent.pid))
        return any("→ 2" in line for line in list(err_lines))

    try:
        deadline = time.monotonic() + 60
        while not in_step() and agent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # well into the step
        assert agent.poll() is None, "".join(err_lines)
        assert in_step(), "".join(err_lines)
        began = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
        took = time.monotonic() - began
    finally:
        if agent.poll() is None:
            agent.kill()
    reader.join(10)
    out, err = agent.stdout.read(), "".join(err_lines)
    assert agent.returncode == 0, err
    assert took < 5, f"took {took:.1f} s to stop"
    print(f"stopped in {took:.2f} s")
    assert "STOPPED" in out
    (bundle,) = run.bundles()  # in the spool, or already uploaded by the background thread
    documents, _ = validate_documents(bundle)  # a cancelled cycle's bundle too
    assert "autoperf.event" in {d["kind"] for d in documents}
    cut = [r for r in records(bundle) if r.kind != "autoperf.event"]
    assert len(cut) == 1 and cut[0].status.value == "failed" and "cancelled" in (cut[0].error or "")
    assert _locusts_of(agent.pid) == []
