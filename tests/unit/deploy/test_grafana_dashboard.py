"""The shipped Grafana dashboard: it parses, and every panel's query names only metrics the
agent or the server exports (a renamed metric must not leave an empty panel behind)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from waddleperf.autoperf.metrics.collector import METRICS as AGENT
from waddleperf_server.http.exposition import METRICS as SERVER

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "waddleperf.json"
#: A metric name in a query (every one of ours starts so).
NAME = re.compile(r"\bwaddleperf_[a-z0-9_]+\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in doc["panels"]:
        out.append(panel)
        out += panel.get("panels", [])
    return out


def _family(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in AGENT:
            return name.removesuffix(suffix)
    return name


def test_every_query_names_an_exported_metric() -> None:
    doc = json.loads(DASHBOARD.read_text())
    exported = set(AGENT) | set(SERVER)
    queries = [t["expr"] for p in _panels(doc) for t in p.get("targets", [])]
    assert len(queries) >= 20
    for expr in queries:
        names = NAME.findall(expr)
        assert names, f"query names no metric: {expr}"
        unknown = {_family(n) for n in names} - exported
        assert not unknown, f"{expr}: not exported: {sorted(unknown)}"
    variables = [v.get("definition", "") for v in doc["templating"]["list"]]
    for definition in filter(None, variables):
        assert {_family(n) for n in NAME.findall(definition)} <= exported, definition


def test_fleet_overview_and_one_agent_detail() -> None:
    doc = json.loads(DASHBOARD.read_text())
    titles = [p["title"] for p in _panels(doc)]
    assert "Tier per agent × server" in titles and any("One agent" in t for t in titles)
    assert {"agent", "detail", "datasource"} <= {v["name"] for v in doc["templating"]["list"]}
    ids = [p["id"] for p in _panels(doc)]
    assert len(ids) == len(set(ids))
