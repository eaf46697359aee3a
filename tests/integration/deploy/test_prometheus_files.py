"""The shipped Prometheus files pass Debian's ``promtool``: the scrape config (its syntax: the
token file it names lives on the Prometheus host) and the alerting rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.prom import PROMTOOL

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus-compose.yml"])
def test_scrape_configs_pass_promtool(name: str) -> None:
    done = _promtool("check", "config", "--syntax-only", str(DEPLOY / name))
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_pass_promtool_and_cover_the_four_conditions() -> None:
    rules = DEPLOY / "rules.yml"
    done = _promtool("check", "rules", str(rules))
    assert done.returncode == 0, done.stdout + done.stderr
    text = rules.read_text()
    for alert in ("WaddlePerfAgentDown", "WaddlePerfSpoolGrowing", "WaddlePerfTier3Reached",
                  "WaddlePerfLossHigh"):  # fmt: skip
        assert f"alert: {alert}" in text


def test_a_broken_rule_file_fails_promtool(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(\n")
    assert _promtool("check", "rules", str(bad)).returncode != 0
