"""The charts as PNG files, drawn by matplotlib (Agg: no display; imported only when a chart
is drawn, so the rest of the report needs no matplotlib).

The same charts as the page's uPlot ones (:mod:`waddleperf.report.render.charts`): latency
with SmokePing's bands and loss colours on the shared time axis, the tier timeline as step
lines, and each profiled target's CPU and RSS on two axes. Times are shown in UTC.

A report draws dozens of charts on one shared time axis (one per agent × server): the date
ticks and labels matplotlib works out for the first are kept in a :class:`TimeTicks` and set
on the others as they are (the same positions, labels and offset text), which spares most of
a chart's tick work; PNGs are written with zlib level 1 (larger files, a fraction of the time).
A report of many charts is drawn by two processes at once (:func:`draw_all`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from waddleperf.report.render.charts import (
    FULL_LOSS_COLOUR,
    LOSS_CLASSES,
    NO_LOSS_FIGURE_COLOUR,
    Chart,
    loss_colour,
)
from waddleperf.results.atomic import atomic_writer

SIZE_IN = (10.0, 3.2)
DPI = 100
#: zlib level of the PNG files (1: fastest; the images are the same).
PNG_COMPRESS_LEVEL = 1
#: Charts from which a second process draws half of them.
PARALLEL_FROM = 12
_BAND_OUTER = (0.0, 0.0, 0.0, 0.12)  # the page's rgba() colours, as matplotlib takes them
_BAND_INNER = (0.0, 0.0, 0.0, 0.28)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display here, ever
    import matplotlib.pyplot as plt

    return plt


def literal(label: str) -> str:
    """``label`` shown as typed: matplotlib would read ``$…$`` as mathematics (and fail on a
    malformed one), so a name from the field cannot crash or restyle a chart."""
    return label.replace("$", r"\$")


def _dates(xs: tuple[float, ...] | list[float]) -> list[datetime]:
    return [datetime.fromtimestamp(x, UTC) for x in xs]


def _nan(values: tuple[float | None, ...]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


@dataclass
class TimeTicks:
    """Date ticks worked out once per time axis: (kind, x range) → positions, labels, offset."""

    known: dict[tuple[str, tuple[float, float]], tuple[list[float], list[str], str]] = field(
        default_factory=dict
    )


def _time_axis(ax: Any, chart: Chart, ticks: TimeTicks) -> tuple[str, tuple[float, float]] | None:
    """Set up the x axis; return the key under which its ticks are to be kept after the
    chart is drawn (``None``: already known, or the axis has no fixed range)."""
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    if chart.x_range is not None:
        lo, hi = _dates(list(chart.x_range))
        ax.set_xlim(lo, hi)
    key = None if chart.x_range is None else (chart.kind, chart.x_range)
    if key is not None and key in ticks.known:
        from matplotlib.ticker import FixedFormatter, FixedLocator

        positions, labels, offset = ticks.known[key]
        ax.xaxis.set_major_locator(FixedLocator(positions))
        fixed = FixedFormatter(labels)
        fixed.set_offset_string(offset)
        ax.xaxis.set_major_formatter(fixed)
        return None
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    concise = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(concise)
    return key


def _keep_ticks(ax: Any, key: tuple[str, tuple[float, float]], ticks: TimeTicks) -> None:
    # read back after a draw: what the locator chose and the labels the formatter made
    positions = [float(x) for x in ax.xaxis.get_majorticklocs()]
    labels = [t.get_text() for t in ax.xaxis.get_majorticklabels()]
    ticks.known[key] = (positions, labels, ax.xaxis.get_offset_text().get_text())


def _latency(ax: Any, chart: Chart) -> None:
    p10, p25, p50, p75, p90 = (_nan(s.values) for s in chart.series)
    x = _dates(chart.x)
    ax.fill_between(x, p10, p90, color=_BAND_OUTER, linewidth=0, label="p10–p90")
    ax.fill_between(x, p25, p75, color=_BAND_INNER, linewidth=0, label="p25–p75")
    ax.plot(x, p50, color=chart.series[2].colour, linewidth=0.8, label="median")
    # SmokePing's loss marks: one stroke per bucket across its width, drawn as two line
    # collections (one hlines call each) — per-bucket calls made a day's chart cost seconds.
    half = chart.bucket_s / 2
    top = max((v for v in p90 + p50 if v == v), default=1.0) or 1.0
    marked = [i for i, v in enumerate(p50) if v == v]
    lost = [
        i for i, v in enumerate(p50) if v != v and chart.counts[i] > 0 and (chart.loss[i] or 0) >= 1
    ]
    for picked, ys, colours, width in (
        (marked, [p50[i] for i in marked], [loss_colour(chart.loss[i]) for i in marked], 3),
        (lost, [0.0] * len(lost), [FULL_LOSS_COLOUR] * len(lost), 6),
    ):
        if picked:
            starts = _dates([chart.x[i] - half for i in picked])
            ends = _dates([chart.x[i] + half for i in picked])
            ax.hlines(ys, starts, ends, colors=colours, linewidth=width)
    ax.set_ylim(0, top * 1.1)
    ax.set_ylabel(chart.axes[0])
    _loss_legend(ax)


def _loss_legend(ax: Any) -> None:
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    loss = [Patch(color=c, label=f"loss {label}") for _, c, label, _ in LOSS_CLASSES]
    loss.append(Patch(color=NO_LOSS_FIGURE_COLOUR, label="no loss figure"))
    ax.legend(
        handles=handles + loss, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), ncol=1
    )


def _tiers(ax: Any, chart: Chart) -> None:
    x = _dates(chart.x)
    top = 3.0
    for s in chart.series:
        values = _nan(s.values)
        top = max([top, *(v for v in values if v == v)])
        ax.step(x, values, where="post", color=s.colour, linewidth=2, label=literal(s.label))
        ax.plot(x, values, "o", color=s.colour, markersize=4)
    ax.set_ylim(0.5, top + 0.5)
    ax.set_yticks(range(1, int(top) + 1))
    ax.set_ylabel(chart.axes[0])
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _profile(ax: Any, chart: Chart) -> None:
    x = _dates(chart.x)
    cpu, rss = chart.series
    ax.plot(x, _nan(cpu.values), color=cpu.colour, marker=".", linewidth=1.5, label=cpu.label)
    ax.set_ylabel(chart.axes[0], color=cpu.colour)
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(x, _nan(rss.values), color=rss.colour, marker=".", linewidth=1.5, label=rss.label)
    right.set_ylabel(chart.axes[1], color=rss.colour)
    right.set_ylim(bottom=0)


#: Kinds whose y values never need an offset text: latency in ms, tiers 1–3.
_FIXED_TITLE = ("latency", "tiers")
_DRAW = {"latency": _latency, "tiers": _tiers, "profile": _profile}


def draw(chart: Chart, out: BinaryIO, ticks: TimeTicks | None = None) -> None:
    """Draw ``chart`` as a PNG image into ``out`` (the caller makes the file atomic);
    ``ticks``: the date ticks of the charts drawn before it, shared by a report's charts."""
    plt = _pyplot()
    ticks = TimeTicks() if ticks is None else ticks
    fig, ax = plt.subplots(figsize=SIZE_IN)
    try:
        _DRAW[chart.kind](ax, chart)
        keep = _time_axis(ax, chart, ticks)
        # A title at a fixed height spares matplotlib measuring every tick label to place
        # it; the same picture where no y-axis offset text (``1e6``) can meet the title.
        fixed = {"y": 1.0} if chart.kind in _FIXED_TITLE else {}
        ax.set_title(literal(chart.title), fontsize=10, **fixed)
        # fixed margins (tight_layout would draw the figure once more): room on the right
        # for the legend or the second axis
        fig.subplots_adjust(left=0.07, right=0.86, top=0.9, bottom=0.18)
        fig.savefig(out, dpi=DPI, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
        if keep is not None:
            _keep_ticks(ax, keep, ticks)
    finally:
        plt.close(fig)


def draw_files(charts: Sequence[Chart], paths: Sequence[Path]) -> None:
    """Draw each chart into its path (written atomically), sharing their date ticks."""
    ticks = TimeTicks()
    for chart, path in zip(charts, paths, strict=True):
        with atomic_writer(path) as out:
            draw(chart, out, ticks)


def draw_all(charts: Sequence[Chart], paths: Sequence[Path], workers: int | None = None) -> None:
    """Draw each chart into its path: from :data:`PARALLEL_FROM` charts on, in ``workers``
    processes (default: two, or one on a single core), each a contiguous share of them (the
    charts of one time axis stay together, sharing ticks). The processes are forked once
    matplotlib is imported, so they do not import it again."""
    n = min(2, os.cpu_count() or 1) if workers is None else workers
    if n <= 1 or len(charts) < PARALLEL_FROM:
        draw_files(charts, paths)
        return
    _pyplot()
    step = -(-len(charts) // n)
    parts = [(charts[i : i + step], paths[i : i + step]) for i in range(0, len(charts), step)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(len(parts) - 1, mp_context=context) as pool:
        futures = [pool.submit(draw_files, *part) for part in parts[1:]]
        draw_files(*parts[0])
        for future in futures:
            future.result()
