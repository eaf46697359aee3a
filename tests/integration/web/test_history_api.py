"""The History and Fleet APIs over the synthetic fleet: listing, charts on one axis, detail,
CSV/JSON export of the filtered set, permalink errors; agents, tiers, bundles, the config."""

from __future__ import annotations

import csv
import gzip
import io
import json

from tests.integration.web.conftest import COUNT, Ui

API = "/waddleperf/api"


def test_listing_filters_and_pages(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.1")
    every = client.api("GET", f"{API}/history?per_page=10").json()
    assert every["total"] > COUNT * 5 and len(every["rows"]) == 10 and every["pages"] > 1
    one = client.api("GET", f"{API}/history?agent=agent-00&kind=icmp&per_page=500").json()
    assert one["total"] > 0
    assert {(r["agent"], r["kind"]) for r in one["rows"]} == {("agent-00", "probe.icmp")}
    second = client.api("GET", f"{API}/history?per_page=10&page=2").json()
    assert second["rows"][0]["id"] != every["rows"][0]["id"]


def test_bad_permalinks_are_400_naming_the_parameter(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.2")
    for query, word in (("since=yesterday", "since"), ("range=2y", "range"),
                        ("per_page=100000", "per_page"), ("colour=red", "colour")):  # fmt: skip
        reply = client.api("GET", f"{API}/history?{query}")
        assert reply.status == 400 and word in reply.json()["error"], query


def test_charts_share_one_axis(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.3")
    charts = client.api("GET", f"{API}/history/charts?since=2026-11-01T00:00:00").json()
    assert charts["latency"] and charts["loss"]
    axis = charts["axis"]
    assert axis and all(len(s["values"]) == len(axis) for s in charts["loss"])
    assert all(len(s["values"]) == len(axis) for s in charts["throughput"])


def test_detail_and_export(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.4")
    row = client.api("GET", f"{API}/history?kind=udp&per_page=1").json()["rows"][0]
    detail = client.api("GET", f"{API}/history/record?record={row['id']}").json()
    assert detail["id"] == row["id"] and detail["kind"] == "probe.udp" and detail["metrics"]
    assert client.api("GET", f"{API}/history/record?record=1:2:probe.udp").status == 404
    assert client.api("GET", f"{API}/history/record?record=junk").status == 400
    reply = client.api("GET", f"{API}/history/export.csv?kind=udp&agent=agent-01")
    assert reply.status == 200
    assert (reply.header("Content-Type") or "").startswith("text/csv")
    assert "attachment" in (reply.header("Content-Disposition") or "")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    total = client.api("GET", f"{API}/history?kind=udp&agent=agent-01").json()["total"]
    assert len(rows) == total > 0
    assert {r["agent"] for r in rows} == {"agent-01"} and json.loads(rows[0]["metrics"])
    as_json = client.api("GET", f"{API}/history/export.json?kind=udp&agent=agent-01").json()
    assert len(as_json) == total and isinstance(as_json[0]["metrics"], dict)


def test_fleet_agents_tiers_bundles_and_config(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.5")
    fleet = client.api("GET", f"{API}/fleet").json()
    names = {a["agent"] for a in fleet["agents"]}
    assert {"agent-00", "agent-01"} <= names
    agent = next(a for a in fleet["agents"] if a["agent"] == "agent-00")
    assert agent["servers"] and all(s["tier"] in (1, 2, 3) for s in agent["servers"])
    assert any(e["to_tier"] == 2 for e in fleet["timeline"])
    bundles = client.api("GET", f"{API}/fleet/bundles?agent=agent-00").json()["bundles"]
    assert bundles and bundles[0]["download"]
    data = client.api("GET", bundles[0]["download"])
    assert data.status == 200 and gzip.decompress(data.body)[:100]
    assert client.api("GET", f"{API}/fleet/bundle/999999").status == 404
    assert client.api("GET", f"{API}/fleet/bundles").status == 400
    config = client.api("GET", f"{API}/fleet/config").json()
    assert config["ok"] and config["summary"]["agent"] == "ui-agent" and config["errors"] == []


def test_the_config_shown_is_checked_now(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.viewer, "127.0.7.6")
    path = ui.runtime.config_path
    assert path is not None
    before = path.read_text()
    try:
        path.write_text(before.replace("interval_s: 1\n", "interval_s: -5\n", 1))
        config = client.api("GET", f"{API}/fleet/config").json()
        assert not config["ok"] and any("interval_s" in e for e in config["errors"]), config
    finally:
        path.write_text(before)
