"""The charts as PNG files, drawn by matplotlib (Agg: no display; imported only when a chart
is drawn, so the rest of the report needs no matplotlib).

The same charts as the page's uPlot ones (:mod:`waddleperf.report.render.charts`): latency
with SmokePing's bands and loss colours on the shared time axis (drawn on a stencil of what
they share, :mod:`waddleperf.report.render.stencil`), the tier timeline as step lines, and
each profiled target's CPU and RSS on two axes. Times are shown in UTC.

Each PNG carries a digest of what it shows (:mod:`waddleperf.report.render.pngcache`):
:func:`draw_all` redraws only the charts whose PNG is missing or shows other data. PNGs are
written with zlib level 1 (larger files, a fraction of the time). Many charts are drawn by two
processes at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from waddleperf.report.render import pngcache
from waddleperf.report.render.charts import Chart
from waddleperf.report.render.stencil import (
    DPI,
    MARGINS,
    SIZE_IN,
    Stencils,
    date_axis,
    dates,
    literal,
    nan,
    pyplot,
    save_png,
)
from waddleperf.results.atomic import atomic_writer

__all__ = ["DPI", "PARALLEL_FROM", "SIZE_IN", "draw", "draw_all", "draw_files", "literal"]

#: Charts to draw from which a second process draws half of them.
PARALLEL_FROM = 12


def _tiers(ax: Any, chart: Chart) -> None:
    x = dates(chart.x)
    top = 3.0
    for s in chart.series:
        values = nan(s.values)
        top = max([top, *(v for v in values if v == v)])
        ax.step(x, values, where="post", color=s.colour, linewidth=2, label=literal(s.label))
        ax.plot(x, values, "o", color=s.colour, markersize=4)
    ax.set_ylim(0.5, top + 0.5)
    ax.set_yticks(range(1, int(top) + 1))
    ax.set_ylabel(chart.axes[0])
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _profile(ax: Any, chart: Chart) -> None:
    x = dates(chart.x)
    cpu, rss = chart.series
    ax.plot(x, nan(cpu.values), color=cpu.colour, marker=".", linewidth=1.5, label=cpu.label)
    ax.set_ylabel(chart.axes[0], color=cpu.colour)
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    right.plot(x, nan(rss.values), color=rss.colour, marker=".", linewidth=1.5, label=rss.label)
    right.set_ylabel(chart.axes[1], color=rss.colour)
    right.set_ylim(bottom=0)


_DRAW = {"tiers": _tiers, "profile": _profile}


def _draw_whole(chart: Chart, out: BinaryIO, digest: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=SIZE_IN, dpi=DPI)
    try:
        _DRAW[chart.kind](ax, chart)
        ax.set_xlabel("time (UTC)")
        ax.grid(alpha=0.3)
        date_axis(ax)
        # A title at a fixed height spares matplotlib measuring every tick label to place
        # it; the same picture where no y-axis offset text (``1e6``) can meet the title.
        fixed = {"y": 1.0} if chart.kind == "tiers" else {}
        ax.set_title(literal(chart.title), fontsize=10, **fixed)
        fig.subplots_adjust(**MARGINS)
        fig.canvas.draw()
        save_png(fig.canvas.buffer_rgba(), out, digest)
    finally:
        plt.close(fig)


def draw(chart: Chart, out: BinaryIO, stencils: Stencils | None = None) -> None:
    """Draw ``chart`` as a PNG image into ``out`` (the caller makes the file atomic); a
    latency chart on its stencil from ``stencils`` (made and closed here when None)."""
    digest = pngcache.chart_digest(chart)
    if chart.kind != "latency":
        _draw_whole(chart, out, digest)
        return
    own = Stencils() if stencils is None else stencils
    try:
        own.draw(chart, out, digest)
    finally:
        if stencils is None:
            own.close()


def draw_files(charts: Sequence[Chart], paths: Sequence[Path]) -> None:
    """Draw each chart into its path (written atomically), sharing their stencils."""
    stencils = Stencils()
    try:
        for chart, path in zip(charts, paths, strict=True):
            with atomic_writer(path) as out:
                draw(chart, out, stencils)
    finally:
        stencils.close()


def draw_all(charts: Sequence[Chart], paths: Sequence[Path], workers: int | None = None) -> int:
    """Draw each chart whose PNG at its path is missing or shows other data (the rest are
    kept as they are) and return how many were drawn. From :data:`PARALLEL_FROM` charts to
    draw on, ``workers`` processes (default: two, or one on a single core) draw a contiguous
    share each (the charts of one time axis stay together, on one stencil); they are forked
    once matplotlib is imported, so they do not import it again."""
    todo = pngcache.stale(charts, paths)
    charts, paths = [charts[i] for i in todo], [paths[i] for i in todo]
    n = min(2, os.cpu_count() or 1) if workers is None else workers
    if n <= 1 or len(charts) < PARALLEL_FROM:
        draw_files(charts, paths)
        return len(todo)
    pyplot()
    step = -(-len(charts) // n)
    parts = [(charts[i : i + step], paths[i : i + step]) for i in range(0, len(charts), step)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(len(parts) - 1, mp_context=context) as pool:
        futures = [pool.submit(draw_files, *part) for part in parts[1:]]
        draw_files(*parts[0])
        for future in futures:
            future.result()
    return len(todo)
