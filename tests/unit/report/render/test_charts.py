"""The charts as data: SmokePing's loss colours, one latency chart per series on one shared time
axis, the tier timeline's steps, profiles in MiB, safe file names."""

from __future__ import annotations

import pytest

from tests.support.report_summary import empty_summary, make_summary
from waddleperf.report.render import charts
from waddleperf.report.render.fmt import epoch


@pytest.mark.parametrize(
    ("loss", "colour"),
    [
        (0.0, "#26ff00"),
        (0.01, "#00b8ff"),  # 1 of 20 pings or less
        (0.05, "#00b8ff"),
        (0.0501, "#0059ff"),
        (0.10, "#0059ff"),
        (0.15, "#5e00ff"),
        (0.20, "#7e00ff"),
        (0.35, "#dd00ff"),
        (0.50, "#dd00ff"),
        (0.95, "#ff0000"),
        (1.0, "#ff0000"),
        (None, charts.NO_LOSS_FIGURE_COLOUR),
    ],
)
def test_loss_colours_are_smokepings(loss: float | None, colour: str) -> None:
    assert charts.loss_colour(loss) == colour


def test_one_latency_chart_per_series_on_one_time_axis() -> None:
    summary = make_summary(buckets=10, bucket_s=30)
    built = [c for c in charts.build(summary) if c.kind == "latency"]
    series = summary["latency_series"]
    assert [c.title for c in built] == [f"{s['agent']} → {s['server']} (icmp)" for s in series]
    first = epoch(summary["window"]["first"])
    assert first is not None
    assert {c.x_range for c in built} == {(first, first + 10 * 30)}
    # x is the middle of each bucket; the bands come from the points, in order
    point = series[0]["points"][3]
    c = built[0]
    assert c.x[3] == first + 3 * 30 + 15
    assert point["t"] == "2026-05-01T12:01:30Z"
    assert [s.label for s in c.series] == ["p10", "p25", "median", "p75", "p90"]
    assert c.series[2].values[3] == point["p50"]
    assert c.series[0].values[3] == point["p10"]
    assert c.loss[3] == point["loss_ratio"]
    assert c.counts == tuple(p["count"] for p in series[0]["points"])


def test_keys_and_files_numbered_in_page_order() -> None:
    built = charts.build(make_summary())
    assert [c.kind for c in built] == ["latency"] * 4 + ["tiers"] + ["profile"] * 2
    assert [c.key for c in built] == [f"chart-{n:02d}" for n in range(1, 8)]
    assert built[0].file == "chart-01-latency-agent-berlin-srv-a-icmp.png"
    assert built[4].file == "chart-05-tiers-escalations.png"
    assert len({c.file for c in built}) == len(built)


def test_tier_timeline_steps_through_each_change() -> None:
    summary = make_summary()
    (tiers,) = [c for c in charts.build(summary) if c.kind == "tiers"]
    window = summary["window"]
    times = [epoch(window["first"])] + [epoch(e["t"]) for e in summary["escalations"]]
    assert list(tiers.x) == [*times, epoch(window["last"])]
    (line,) = tiers.series
    assert line.label == "agent-berlin → srv-a"
    # 1 before the first change (its from_tier), then 2, 3, back to 1, still 1 at the end
    assert line.values == (1, 2, 3, 1, 1)


def test_tier_timeline_per_agent_and_server() -> None:
    summary = make_summary()
    summary["escalations"].append(
        {
            "agent": "agent-lisbon",
            "server": "srv-b",
            "t": summary["escalations"][1]["t"],
            "from_tier": 2,
            "to_tier": 3,
            "reason": "rtt up",
        }
    )
    (tiers,) = [c for c in charts.build(summary) if c.kind == "tiers"]
    assert [s.label for s in tiers.series] == ["agent-berlin → srv-a", "agent-lisbon → srv-b"]
    assert tiers.series[1].values == (2, 2, 3, 3, 3)
    assert tiers.series[0].colour != tiers.series[1].colour


def test_profile_in_percent_and_mib() -> None:
    summary = make_summary(profile_points=5)
    profiles = [c for c in charts.build(summary) if c.kind == "profile"]
    assert len(profiles) == len(summary["profiling"])
    points = summary["profiling"][0]["points"]
    cpu, rss = profiles[0].series
    assert cpu.values == tuple(p["cpu_percent"] for p in points)
    assert rss.values[0] == pytest.approx(points[0]["rss_bytes"] / (1024 * 1024))
    assert (cpu.scale, rss.scale) == ("cpu", "mem")


def _one_series(kind: str, **point: object) -> dict[str, object]:
    bucket = {"t": "2026-05-01T12:00:00Z", "count": 20, "loss_ratio": 0.0}
    bucket.update({q: None for q in ("p10", "p25", "p50", "p75", "p90")})
    bucket.update(point)
    return {"agent": "a", "server": "s", "kind": kind, "bucket_s": 60, "points": [bucket]}


def test_nothing_to_draw_no_chart() -> None:
    assert charts.build(empty_summary()) == []
    summary = empty_summary()
    summary["latency_series"] = [_one_series("http", t="not a time", p50=3.0)]
    summary["profiling"] = [{"agent": "a", "target": "t", "points": []}]
    assert charts.build(summary) == []


def test_a_bucket_all_lost_is_still_drawn() -> None:
    summary = empty_summary()
    summary["latency_series"] = [_one_series("icmp", loss_ratio=1.0)]
    (chart,) = charts.build(summary)
    assert chart.loss == (1.0,)
    assert chart.series[2].values == (None,)


def test_malformed_parts_read_as_empty() -> None:
    summary = make_summary()
    summary["latency_series"] = "oops"
    summary["escalations"] = [1, None, "x"]
    summary["profiling"] = {"not": "a list"}
    assert charts.build(summary) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/abs/path", "a\x00b", "<script>", "", "é" * 100]
)
def test_file_names_cannot_leave_the_directory(name: str) -> None:
    stem = charts.slug(name, "srv")
    assert stem and len(stem) <= 60
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_json_form_carries_everything_drawn() -> None:
    chart = charts.build(make_summary())[0]
    data = chart.to_json()
    assert data["key"] == chart.key
    assert data["x"] == list(chart.x)
    assert [s["values"] for s in data["series"]] == [list(s.values) for s in chart.series]
    assert data["loss"] == list(chart.loss)
    assert data["bucket_s"] == chart.bucket_s
