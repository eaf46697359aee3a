"""Tier-3 profiling through a server whose /stats needs the operator token: the agent names
the variable in its config (``servers[].stats_token_env``), never the token, and its load
run's target samples come through."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.targets import Running
from waddleperf.autoperf.config import LoadTarget
from waddleperf.autoperf.loadrun import LOAD_KIND, LoadJob, run_load
from waddleperf.localstack import LocalServer
from waddleperf.probes.base import RunContext
from waddleperf.results.reader import read_bundle

TOKEN_ENV = "WP_TEST_STATS_TOKEN"


def test_tier3_profiling_carries_the_token(
    tmp_path: Path, server_factory: Callable[..., LocalServer], flask_target: Running
) -> None:
    token = secrets.token_hex(16)
    # Token only: the agent on loopback is refused /stats without it.
    server = server_factory(
        env={TOKEN_ENV: token},
        config_yaml=(
            f"operator: {{allowed_networks: [], token_env: {TOKEN_ENV}}}\n"
            f"stats:\n  targets:\n    - {{name: flask, port: {flask_target.port}}}\n"
        ),
    )
    entry = {**server_entry(server), "stats_token_env": TOKEN_ENV}
    target = {"name": "flask", "url": flask_target.url, "users": 2, "spawn_rate": 2,
              "duration_s": 3, "stats_server": "lo"}  # fmt: skip
    tiers = quick_tiers(tier3={"load": True})
    run = write_agent(tmp_path, {"servers": [entry], "targets": [target], "tiers": tiers})
    proc = run.run("--force-tier", "3", WP_TEST_STATS_TOKEN=token)
    assert proc.returncode == 0, proc.stderr
    assert token not in run.config.read_text()  # the config names the variable only
    (bundle,) = run.bundles()
    content = read_bundle(bundle)
    load = next(r for r in content.results if r.kind == LOAD_KIND)
    assert load.status.value == "ok", load.error
    points = [p for p in content.profiling if p["type"] == "Point"]
    target_points = {
        p["metric"]: p["data"]["value"] for p in points if p["data"]["tags"]["target"] == "target"
    }
    assert target_points.get("processes_count", 0) >= 1, target_points  # gunicorn, via /stats
    assert target_points.get("rss_mb", 0) > 0, target_points


def test_an_unset_token_variable_fails_the_load_run_with_its_name(tmp_path: Path) -> None:
    target = LoadTarget(name="t", url="http://127.0.0.1:9/")
    job = LoadJob(target, "http://127.0.0.1:9/stats", "WP_TEST_UNSET_TOKEN_VAR")
    outcome = run_load(job, tmp_path, threading.Event(), 30, RunContext(tier=3))
    assert outcome.record.status.value == "failed"
    assert "WP_TEST_UNSET_TOKEN_VAR is unset" in (outcome.record.error or "")
