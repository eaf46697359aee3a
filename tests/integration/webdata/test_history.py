"""History and Fleet data over a catalog of real bundles."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.webdata.conftest import COUNT, SPEC
from waddleperf.report.scope import parse_time
from waddleperf.webdata import fleet, history, series
from waddleperf.webdata.records import RecordIdError
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState, decode

T0 = SPEC.start
# 20 cycles of 60 s; the whole fleet lies in the first 21 minutes.
WINDOW = f"since={T0:%Y-%m-%dT%H:%M}&until={T0 + timedelta(minutes=30):%Y-%m-%dT%H:%M}"


def _all_rows(cat: Catalog, query: str) -> list[dict[str, object]]:
    state = decode(query + "&per_page=500")
    page = history.listing(cat, state)
    return list(page["rows"])


def test_listing_filters_pages_and_orders_newest_first(catalog: Catalog) -> None:
    every = history.listing(catalog, decode("per_page=10"))
    # per cycle: 5 tier-1 probes × 2 servers, more in tier-2/3 cycles
    assert every["total"] > COUNT * 10 and every["pages"] == -(-every["total"] // 10)
    times = [r["started_at"] for r in every["rows"]]
    assert times == sorted(times, reverse=True) and len(times) == 10
    udp = _all_rows(catalog, "agent=agent-01&server=server-1&kind=udp")
    assert udp and {(r["agent"], r["server"], r["kind"]) for r in udp} == {
        ("agent-01", "server-1", "probe.udp")}  # fmt: skip
    assert len(udp) == COUNT // SPEC.agents  # one tier-1 udp per cycle of that agent
    page2 = history.listing(catalog, decode("per_page=10&page=2"))
    assert page2["rows"][0]["id"] not in {r["id"] for r in every["rows"]}


def test_time_range_filters_records(catalog: Catalog) -> None:
    since = T0 + timedelta(minutes=5)
    until = T0 + timedelta(minutes=6)
    rows = _all_rows(catalog, f"since={since:%Y-%m-%dT%H:%M}&until={until:%Y-%m-%dT%H:%M}")
    assert rows
    assert all(since <= parse_time(str(r["started_at"])) < until for r in rows)


def test_detail_is_the_raw_record(catalog: Catalog) -> None:
    row = _all_rows(catalog, "kind=icmp&agent=agent-00")[0]
    record = history.detail(catalog, str(row["id"]))
    assert record is not None
    assert record["kind"] == "probe.icmp" and record["started_at"] == row["started_at"]
    assert record["metrics"]["sent_count"] == 5.0 and record["info"]["server"] == row["server"]
    assert str(record["location"]).endswith(".tar.gz")
    assert history.detail(catalog, "999999:1:probe.icmp") is None
    with pytest.raises(RecordIdError):
        history.detail(catalog, "nope")


def test_charts_share_one_axis_with_smokeping_bands(catalog: Catalog) -> None:
    charts = series.charts(catalog, decode(WINDOW))
    assert charts["bucket_s"] == 60  # 30 minutes in at most 120 buckets
    assert len(charts["latency"]) == SPEC.agents * SPEC.servers
    assert {len(s["p50"]) for s in charts["latency"]} == {31} and len(charts["axis"]) == 31
    assert {len(s["values"]) for s in charts["loss"] + charts["throughput"]} == {31}
    one = charts["latency"][0]
    assert one["kind"] == "probe.icmp"
    full = [i for i, n in enumerate(one["count"]) if n]
    bands = ("p10", "p25", "p50", "p75", "p90")
    assert full and all(
        [one[k][i] for k in bands] == sorted(one[k][i] for k in bands) for i in full
    )
    assert {s["kind"] for s in charts["throughput"]} >= {"probe.iperf", "probe.speedtest"}
    tput = [v for s in charts["throughput"] for v in s["values"] if v is not None]
    assert tput and min(tput) > 1e6  # bit/s


def test_week_range_gets_wider_buckets(catalog: Catalog) -> None:
    until = T0 + timedelta(days=3)
    charts = series.charts(catalog, decode(f"range=7d&until={until:%Y-%m-%dT%H:%M}"))
    assert charts["bucket_s"] == 7200
    assert sum(charts["latency"][0]["count"]) == COUNT // SPEC.agents


def test_export_csv_and_json_hold_the_whole_filtered_set(catalog: Catalog) -> None:
    state = decode("kind=tcp")
    total = history.listing(catalog, state)["total"]
    text = "".join(history.export(catalog, state, "csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == total and {r["kind"] for r in rows} == {"probe.tcp"}
    assert json.loads(rows[0]["metrics"])["attempt_count"] == 3.0
    data = json.loads("".join(history.export(catalog, state, "json")))
    assert len(data) == total and data[0]["metrics"]["attempt_count"] == 3.0
    assert data[0]["id"] == rows[0]["id"]
    with pytest.raises(ValueError, match="csv or json"):
        list(history.export(catalog, state, "xml"))  # type: ignore[arg-type]


def test_fleet_agents_tiers_timeline_and_bundles(catalog: Catalog) -> None:
    agents = fleet.agents(catalog)
    assert [a["agent"] for a in agents] == [SPEC.agent(i) for i in range(SPEC.agents)]
    first = agents[0]
    assert first["bundles"] == COUNT // SPEC.agents
    assert {s["server"] for s in first["servers"]} == {"server-0", "server-1"}
    assert all(s["tier"] in (1, 2, 3) for s in first["servers"])
    events = fleet.timeline(catalog, "agent-00")
    assert events and all(e["agent"] == "agent-00" for e in events)
    # escalations to tiers 2 and 3, and the de-escalations back to 1 that end each episode
    assert {e["to_tier"] for e in events} == {1, 2, 3} and "breach" in events[0]["reason"]
    times = [e["t"] for e in events]
    assert times == sorted(times, reverse=True)
    recent = fleet.recent_bundles(catalog, "agent-00", limit=5)
    assert len(recent) == 5 and recent[0]["bundle_id"] == first["last_bundle"]["bundle_id"]
    path = fleet.bundle_file(catalog, int(recent[0]["bundle_id"]))
    assert path is not None and path.read_bytes()[:2] == b"\x1f\x8b"
    assert fleet.bundle_file(catalog, 10**9) is None


def test_answers_are_cached_until_the_catalog_changes(catalog: Catalog) -> None:
    state = ViewState(since=datetime(2026, 1, 1, tzinfo=UTC))
    a = history.listing(catalog, state)
    assert history.listing(catalog, state) is a
    catalog.ingest([])
    assert history.listing(catalog, state) is not a


WEEK = f"range=7d&until={T0 + timedelta(days=3):%Y-%m-%dT%H:%M}"


# "kind=udp&kind=tcp": no icmp in the view, so every pair's chosen kind (udp) is not the
# first choice and comes from the second query
@pytest.mark.parametrize(
    "query", [WINDOW, "", "kind=udp", "agent=agent-01&server=server-1", WEEK, "kind=udp&kind=tcp"]
)
def test_latency_series_are_the_reports_own(catalog: Catalog, query: str) -> None:
    """The charts compute the latency bands their own (faster) way: they must equal the
    report's :func:`summarize.latency_series` over the same view, and the loss and
    throughput columns the plain per-bucket means of the listed records."""
    from waddleperf.report import summarize

    state = decode(query)
    charts = series.charts(catalog, state)
    filters = state.filters(datetime.now(UTC))
    with catalog.scoped(filters) as cur:
        first, last = filters.since, filters.until
        if first is None or last is None:
            first, last = summarize.window(cur)
        kind = state.kinds[0] if len(state.kinds) == 1 else None
        report = summarize.latency_series(cur, first, last, kind)
    assert [(s["agent"], s["server"], s["kind"]) for s in charts["latency"]] == [
        (s["agent"], s["server"], s["kind"]) for s in report
    ]
    for mine, theirs in zip(charts["latency"], report, strict=True):
        assert [p["t"] for p in theirs["points"]] == charts["axis"]
        assert mine["count"] == [p["count"] for p in theirs["points"]]
        for key in ("p10", "p25", "p50", "p75", "p90", "loss_ratio"):
            want = [p[key] for p in theirs["points"]]
            assert [w is None for w in want] == [v is None for v in mine[key]], key
            assert [v for v in mine[key] if v is not None] == pytest.approx(
                [w for w in want if w is not None], abs=1e-4
            ), key
    every = json.loads("".join(history.export(catalog, state, "json")))
    axis = [parse_time(t, "t").timestamp() for t in charts["axis"]]
    _held_to_plain_means(charts["loss"][:5], every, "loss_ratio", axis, charts["bucket_s"], 1e-6)
    _held_to_plain_means(charts["throughput"], every, "throughput_bps", axis,
                         charts["bucket_s"], 0.5)  # fmt: skip
    if "kind=udp&kind=tcp" in query:
        assert {s["kind"] for s in charts["latency"]} == {"probe.udp"}


def _held_to_plain_means(lines: list[dict[str, Any]], records: list[dict[str, Any]], field: str,
                         axis: list[float], width: int, tolerance: float) -> None:  # fmt: skip
    """Each line's ``counts`` and ``values`` are the count and plain mean of ``field`` over
    the exported records of its agent × server × kind in each bucket (null where none)."""
    rows = [r for r in records if r[field] is not None]
    for line in lines:
        mine = [r for r in rows if (r["agent"], r["server"], r["kind"]) ==
                (line["agent"], line["server"], line["kind"])]  # fmt: skip
        for i, start in enumerate(axis):
            inside = [
                float(str(r[field]))
                for r in mine
                if start <= parse_time(str(r["started_at"]), "t").timestamp() < start + width
            ]
            assert line["counts"][i] == len(inside)
            assert (line["values"][i] is None) == (not inside)
            if inside:
                assert line["values"][i] == pytest.approx(sum(inside) / len(inside), abs=tolerance)


def test_charts_json_is_the_cached_text_of_the_charts(catalog: Catalog) -> None:
    state = decode(WEEK)
    text = series.charts_json(catalog, state)
    assert series.charts_json(catalog, state) is text  # cached: the same text object
    assert json.loads(text) == series.charts(catalog, state)
    assert " " not in text.partition('"axis"')[2][:200]  # compact
    catalog.ingest([])
    assert series.charts_json(catalog, state) is not text
