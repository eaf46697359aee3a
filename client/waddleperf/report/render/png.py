"""The charts as PNG files, drawn by matplotlib (Agg: no display; imported only when a chart
is drawn, so the rest of the report needs no matplotlib).

The same charts as the page's uPlot ones (:mod:`waddleperf.report.render.charts`): latency
with SmokePing's bands and loss colours on the shared time axis, the tier timeline as step
lines, and each profiled target's CPU and RSS on two axes. Times are shown in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, BinaryIO

from waddleperf.report.render.charts import (
    FULL_LOSS_COLOUR,
    LOSS_CLASSES,
    NO_LOSS_FIGURE_COLOUR,
    Chart,
    loss_colour,
)

SIZE_IN = (10.0, 3.2)
DPI = 100
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


def _time_axis(ax: Any, chart: Chart) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    concise = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(concise)
    ax.set_xlabel("time (UTC)")
    if chart.x_range is not None:
        lo, hi = _dates(list(chart.x_range))
        ax.set_xlim(lo, hi)
    ax.grid(alpha=0.3)


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


_DRAW = {"latency": _latency, "tiers": _tiers, "profile": _profile}


def draw(chart: Chart, out: BinaryIO) -> None:
    """Draw ``chart`` as a PNG image into ``out`` (the caller makes the file atomic)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SIZE_IN)
    try:
        _DRAW[chart.kind](ax, chart)
        _time_axis(ax, chart)
        ax.set_title(literal(chart.title), fontsize=10)
        # fixed margins (tight_layout would draw the figure once more): room on the right
        # for the legend or the second axis
        fig.subplots_adjust(left=0.07, right=0.86, top=0.9, bottom=0.18)
        fig.savefig(out, dpi=DPI, format="png")
    finally:
        plt.close(fig)
