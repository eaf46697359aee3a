"""The report's charts as data: what to draw, built once from the summary and drawn twice —
by uPlot in ``report.html`` and by matplotlib as PNG files — so both show the same thing.

* ``latency``: one per agent × server × probe kind, in the manner of SmokePing: per time
  bucket the median (ms) as a line, the spread of the records as bands (p10–p90, p25–p75), and
  the median of each bucket marked in the colour of its loss (SmokePing's default loss
  colours). Every latency chart has the same time range (the summary's buckets are shared).
* ``tiers``: the escalation timeline — which AutoPerf tier ran when, one step line per
  agent → server.
* ``profile``: a profiled target's CPU (%, as the profiler reports it) and RSS (MiB) over
  time, one per agent × target.

Times are Unix seconds (UTC). Pure code: no drawing library is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from waddleperf.report.render.fmt import epoch, number, text

Kind = Literal["latency", "tiers", "profile"]

MEDIAN_COLOUR = "#202020"  # SmokePing's median line
BAND_OUTER = "rgba(0, 0, 0, 0.12)"  # p10–p90
BAND_INNER = "rgba(0, 0, 0, 0.28)"  # p25–p75
FULL_LOSS_COLOUR = "#ff0000"
NO_LOSS_FIGURE_COLOUR = "#808080"
# SmokePing's default loss colours (Smokeping.pm, get_detail, for its suggested 20 pings): a
# bucket takes the first class whose upper bound its loss does not exceed.
LOSS_CLASSES: tuple[tuple[float, str, str, str], ...] = (
    (0.0, "#26ff00", "0", "green"),
    (0.05, "#00b8ff", "≤ 5 %", "light blue"),
    (0.10, "#0059ff", "≤ 10 %", "blue"),
    (0.15, "#5e00ff", "≤ 15 %", "indigo"),
    (0.20, "#7e00ff", "≤ 20 %", "violet"),
    (0.50, "#dd00ff", "≤ 50 %", "magenta"),
    (1.0, FULL_LOSS_COLOUR, "> 50 %", "red"),
)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Series:
    """One line of a chart: its label, one value per x (None: no value there), its colour and
    the y scale it is drawn against (``ms``, ``tier``, ``cpu``, ``mem``)."""

    label: str
    values: tuple[float | None, ...]
    colour: str
    scale: str


@dataclass(frozen=True)
class Chart:
    """One chart: ``key`` names it in the page, ``file`` is its PNG's name (both numbered in
    page order by :func:`build`), ``stem`` the file name's readable part. ``x`` is Unix
    seconds — for a latency chart the middle of each bucket, whose width is ``bucket_s``;
    ``loss`` and ``counts`` are per bucket."""

    kind: Kind
    title: str
    stem: str
    x: tuple[float, ...]
    series: tuple[Series, ...]
    x_range: tuple[float, float] | None = None
    loss: tuple[float | None, ...] = ()
    counts: tuple[int, ...] = ()
    bucket_s: float = 0.0
    axes: tuple[str, ...] = field(default_factory=tuple)
    key: str = ""
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        """The chart as the page's script reads it (plain JSON types)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "x": list(self.x),
            "x_range": list(self.x_range) if self.x_range else None,
            "series": [
                {"label": s.label, "values": list(s.values), "colour": s.colour, "scale": s.scale}
                for s in self.series
            ],
            "loss": list(self.loss),
            "counts": list(self.counts),
            "bucket_s": self.bucket_s,
            "axes": list(self.axes),
        }


def loss_colour(loss: float | None) -> str:
    """SmokePing's colour for a bucket's loss ratio (0–1); grey when the probe has no loss
    figure."""
    if loss is None:
        return NO_LOSS_FIGURE_COLOUR
    for upper, colour, _, _ in LOSS_CLASSES:
        if loss <= upper + 1e-12:
            return colour
    return FULL_LOSS_COLOUR


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def slug(*parts: str) -> str:
    """A file-name-safe rendering of ``parts`` (data from the field must not steer where a
    file goes): lower-case letters, digits and dashes, at most 60 characters."""
    joined = "-".join(parts).lower()
    cleaned = re.sub(r"[^a-z0-9]+", "-", joined).strip("-")
    return cleaned[:60].strip("-") or "chart"


def _shared_range(series: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    stamps = [
        t for s in series for p in _records(s.get("points")) if (t := epoch(p.get("t"))) is not None
    ]
    if not stamps:
        return None
    widest = max((number(s.get("bucket_s")) or 0.0) for s in series)
    return (min(stamps), max(stamps) + widest)


def _latency(s: Mapping[str, Any], x_range: tuple[float, float] | None) -> Chart:
    agent, server, kind = text(s.get("agent")), text(s.get("server")), text(s.get("kind"))
    points = sorted(
        ((t, p) for p in _records(s.get("points")) if (t := epoch(p.get("t"))) is not None),
        key=lambda tp: tp[0],
    )
    width = number(s.get("bucket_s")) or 0.0
    band = {
        q: tuple(number(p.get(q)) for _, p in points) for q in ("p10", "p25", "p50", "p75", "p90")
    }
    labels = {"p10": "p10", "p25": "p25", "p50": "median", "p75": "p75", "p90": "p90"}
    colours = {"p50": MEDIAN_COLOUR}
    return Chart(
        kind="latency",
        title=f"{agent} → {server} ({kind})",
        stem=f"latency-{slug(agent, server, kind)}",
        x=tuple(t + width / 2 for t, _ in points),
        series=tuple(Series(labels[q], band[q], colours.get(q, "transparent"), "ms") for q in band),
        x_range=x_range,
        loss=tuple(number(p.get("loss_ratio")) for _, p in points),
        counts=tuple(int(number(p.get("count")) or 0) for _, p in points),
        bucket_s=width,
        axes=("latency (ms)",),
    )


def _tiers(events: Sequence[Mapping[str, Any]], window: Mapping[str, Any]) -> Chart:
    """Step lines of the tier in force per agent → server: before its first change the tier
    it changed from, after each change the tier it changed to."""
    timed = sorted(
        ((t, e) for e in events if (t := epoch(e.get("t"))) is not None), key=lambda te: te[0]
    )
    edges = [epoch(window.get("first")), *(t for t, _ in timed), epoch(window.get("last"))]
    x = tuple(sorted({t for t in edges if t is not None}))
    pairs: dict[tuple[str, str], list[tuple[float, Mapping[str, Any]]]] = {}
    for t, e in timed:
        pairs.setdefault((text(e.get("agent")), text(e.get("server"))), []).append((t, e))
    series = []
    for n, ((agent, server), changes) in enumerate(pairs.items()):
        # one walk along x and the (time-sorted) changes together: the last change at or
        # before each x decides its tier
        values: list[float | None] = []
        tier, passed = number(changes[0][1].get("from_tier")), 0
        for xi in x:
            while passed < len(changes) and changes[passed][0] <= xi:
                tier = number(changes[passed][1].get("to_tier"))
                passed += 1
            values.append(tier)
        series.append(
            Series(f"{agent} → {server}", tuple(values), PALETTE[n % len(PALETTE)], "tier")
        )
    return Chart(
        kind="tiers",
        title="AutoPerf tier per agent → server",
        stem="tiers-escalations",
        x=x,
        series=tuple(series),
        axes=("tier",),
    )


def _profile(prof: Mapping[str, Any]) -> Chart:
    agent, target = text(prof.get("agent")), text(prof.get("target"))
    points = sorted(
        ((t, p) for p in _records(prof.get("points")) if (t := epoch(p.get("t"))) is not None),
        key=lambda tp: tp[0],
    )
    rss = tuple(None if (b := number(p.get("rss_bytes"))) is None else b / MIB for _, p in points)
    return Chart(
        kind="profile",
        title=f"{target} (seen by {agent}): CPU and memory",
        stem=f"profile-{slug(agent, target)}",
        x=tuple(t for t, _ in points),
        series=(
            Series(
                "CPU (%)", tuple(number(p.get("cpu_percent")) for _, p in points), PALETTE[0], "cpu"
            ),
            Series("RSS (MiB)", rss, PALETTE[1], "mem"),
        ),
        axes=("CPU (%)", "RSS (MiB)"),
    )


def _drawable(chart: Chart) -> bool:
    if not chart.x:
        return False
    drawn = any(v is not None for s in chart.series for v in s.values)
    return drawn or any(loss is not None for loss in chart.loss)


def build(summary: Mapping[str, Any]) -> list[Chart]:
    """Every chart of the report, in page order: latency, tiers, then profiles, numbered 1…
    (``chart-01``, ``chart-01-latency-….png``). A chart with nothing to draw (no point with a
    time and a value) is left out — its section says so."""
    series = _records(summary.get("latency_series"))
    shared = _shared_range(series)
    charts = [_latency(s, shared) for s in series]
    events = _records(summary.get("escalations"))
    if events:
        window = summary.get("window")
        charts.append(_tiers(events, window if isinstance(window, Mapping) else {}))
    charts.extend(_profile(p) for p in _records(summary.get("profiling")))
    kept = [c for c in charts if _drawable(c)]
    return [
        replace(c, key=f"chart-{n:02d}", file=f"chart-{n:02d}-{c.stem}.png")
        for n, c in enumerate(kept, start=1)
    ]
