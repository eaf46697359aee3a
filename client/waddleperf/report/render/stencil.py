"""Latency charts drawn on a stencil: what every latency chart of a report shares is drawn once.

A report has one latency chart per agent × server × probe kind, all on the same time axis with
the same legend: the figure, the time axis with its ticks and grid, the axis frame and the
legend are the same pixels in each. A :class:`LatencyStencil` draws those once (matplotlib,
Agg) and keeps the picture; each chart then starts from a copy of it and draws only its own
parts — the bands, the median, the loss marks, its y axis (ticks, grid lines, label), the frame
again over the data, and its title — with matplotlib's blitting calls (``restore_region``,
``draw_artist``). A chart costs a fraction of a full draw; its picture is the same whichever
charts were drawn before it (the stencil is restored before each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from waddleperf.report.render.charts import (
    FULL_LOSS_COLOUR,
    LOSS_CLASSES,
    MEDIAN_COLOUR,
    NO_LOSS_FIGURE_COLOUR,
    Chart,
    loss_colour,
)

SIZE_IN = (10.0, 3.2)
DPI = 100
#: zlib level of the PNG files (1: fastest; the images are the same).
PNG_COMPRESS_LEVEL = 1
#: Fixed margins (tight_layout would draw the figure once more): room on the right for the
#: legend or a second axis.
MARGINS = {"left": 0.07, "right": 0.86, "top": 0.9, "bottom": 0.18}
BAND_OUTER = (0.0, 0.0, 0.0, 0.12)  # the page's rgba() colours, as matplotlib takes them
BAND_INNER = (0.0, 0.0, 0.0, 0.28)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display here, ever)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def literal(label: str) -> str:
    """``label`` shown as typed: matplotlib would read ``$…$`` as mathematics (and fail on a
    malformed one), so a name from the field cannot crash or restyle a chart."""
    return label.replace("$", r"\$")


def dates(xs: tuple[float, ...] | list[float]) -> list[datetime]:
    """Unix seconds as UTC datetimes (matplotlib's date axis)."""
    return [datetime.fromtimestamp(x, UTC) for x in xs]


def nan(values: tuple[float | None, ...]) -> list[float]:
    """None as NaN (a gap in a line)."""
    return [float("nan") if v is None else v for v in values]


def date_axis(ax: Any) -> None:
    """Concise UTC date ticks on ``ax``'s x axis."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    concise = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(concise)


def save_png(buffer: Any, out: BinaryIO, digest: str) -> None:
    """An RGBA buffer as a PNG (``digest`` in its tEXt chunk, as :mod:`.pngcache` reads it)."""
    import matplotlib
    import matplotlib.image

    from waddleperf.report.render.pngcache import DIGEST_KEY

    software = f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"
    matplotlib.image.imsave(
        out,
        buffer,
        format="png",
        dpi=DPI,
        metadata={"Software": software, DIGEST_KEY: digest},
        pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL},
    )


def loss_legend(ax: Any, handles: list[Any]) -> None:
    """The legend right of the axes: ``handles`` and SmokePing's loss colours."""
    from matplotlib.patches import Patch

    loss = [Patch(color=c, label=f"loss {label}") for _, c, label, _ in LOSS_CLASSES]
    loss.append(Patch(color=NO_LOSS_FIGURE_COLOUR, label="no loss figure"))
    ax.legend(
        handles=handles + loss, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), ncol=1
    )


def _x_range(chart: Chart) -> tuple[float, float]:
    if chart.x_range is not None:
        return chart.x_range
    half = chart.bucket_s / 2
    return (min(chart.x) - half, max(chart.x) + half)


@dataclass
class LatencyStencil:
    """The shared pixels of the latency charts of one time range and y label."""

    x_range: tuple[float, float]
    ylabel: str
    _fig: Any = field(init=False, repr=False)
    _ax: Any = field(init=False, repr=False)
    _background: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        plt = pyplot()
        fig, ax = plt.subplots(figsize=SIZE_IN, dpi=DPI)
        ax.set_autoscale_on(False)  # the limits are set, never worked out from the data
        ax.set_xlim(*dates(list(self.x_range)))
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("time (UTC)")
        ax.grid(alpha=0.3)
        date_axis(ax)
        ax.set_ylabel(self.ylabel)
        ax.set_title("", fontsize=10, y=1.0)
        loss_legend(
            ax,
            [
                Patch(color=BAND_OUTER, linewidth=0, label="p10–p90"),
                Patch(color=BAND_INNER, linewidth=0, label="p25–p75"),
                Line2D([], [], color=MEDIAN_COLOUR, linewidth=0.8, label="median"),
            ],
        )
        fig.subplots_adjust(**MARGINS)
        ax.yaxis.set_visible(False)  # each chart draws its own
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.canvas.draw()
        self._background = fig.canvas.copy_from_bbox(fig.bbox)
        ax.yaxis.set_visible(True)
        for spine in ax.spines.values():
            spine.set_visible(True)
        self._fig, self._ax = fig, ax

    def draw(self, chart: Chart, out: BinaryIO, digest: str) -> None:
        """Draw the latency ``chart`` as a PNG into ``out``."""
        fig, ax = self._fig, self._ax
        fig.canvas.restore_region(self._background)
        p10, p25, p50, p75, p90 = (nan(s.values) for s in chart.series)
        top = max((v for v in p90 + p50 if v == v), default=1.0) or 1.0
        ax.set_ylim(0, top * 1.1)
        x = dates(chart.x)
        bands = [
            ax.fill_between(x, p10, p90, color=BAND_OUTER, linewidth=0),
            ax.fill_between(x, p25, p75, color=BAND_INNER, linewidth=0),
        ]
        lines = [*ax.plot(x, p50, color=chart.series[2].colour, linewidth=0.8)]
        lines += self._loss_marks(chart, p50)
        ax.title.set_text(literal(chart.title))
        try:
            # in the order of a full draw (by z-order): grid lines over the bands, under lines
            for artist in (*bands, ax.yaxis, *lines, *ax.spines.values(), ax.title):
                ax.draw_artist(artist)
            save_png(fig.canvas.buffer_rgba(), out, digest)
        finally:
            for artist in (*bands, *lines):
                artist.remove()

    def _loss_marks(self, chart: Chart, p50: list[float]) -> list[Any]:
        # SmokePing's loss marks: one stroke per bucket across its width, drawn as two line
        # collections (one hlines call each).
        ax, half = self._ax, chart.bucket_s / 2
        marked = [i for i, v in enumerate(p50) if v == v]
        lost = [
            i
            for i, v in enumerate(p50)
            if v != v and chart.counts[i] > 0 and (chart.loss[i] or 0) >= 1
        ]
        marks = []
        for picked, ys, colours, width in (
            (marked, [p50[i] for i in marked], [loss_colour(chart.loss[i]) for i in marked], 3),
            (lost, [0.0] * len(lost), [FULL_LOSS_COLOUR] * len(lost), 6),
        ):
            if picked:
                starts = dates([chart.x[i] - half for i in picked])
                ends = dates([chart.x[i] + half for i in picked])
                marks.append(ax.hlines(ys, starts, ends, colors=colours, linewidth=width))
        return marks

    def close(self) -> None:
        pyplot().close(self._fig)


@dataclass
class Stencils:
    """One stencil per time range and y label, made when first needed."""

    made: dict[tuple[tuple[float, float], str], LatencyStencil] = field(default_factory=dict)

    def draw(self, chart: Chart, out: BinaryIO, digest: str) -> None:
        """Draw the latency ``chart`` on its stencil."""
        key = (_x_range(chart), chart.axes[0] if chart.axes else "latency (ms)")
        stencil = self.made.get(key)
        if stencil is None:
            stencil = self.made[key] = LatencyStencil(*key)
        stencil.draw(chart, out, digest)

    def close(self) -> None:
        for stencil in self.made.values():
            stencil.close()
        self.made.clear()
