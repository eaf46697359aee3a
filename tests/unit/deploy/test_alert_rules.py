"""The shipped alerting rules name only metrics the agent or the server exports (promtool
checks their syntax, tests/integration/deploy/)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from waddleperf.autoperf.metrics.collector import METRICS as AGENT
from waddleperf_server.http.exposition import METRICS as SERVER

RULES = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "rules.yml"
NAME = re.compile(r"\bwaddleperf_[a-z0-9_]+\b")


def test_every_rule_names_exported_metrics_or_up() -> None:
    doc = yaml.safe_load(RULES.read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert len(rules) >= 4
    for rule in rules:
        names = set(NAME.findall(rule["expr"]))
        assert names or "up{" in rule["expr"], rule
        assert names <= set(AGENT) | set(SERVER), rule["expr"]
