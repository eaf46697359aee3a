"""PNG plots of profiling samples: one figure per source, and one comparing sources.

Each panel draws a field over time with its average, maximum and minimum marked (dashed
average line, annotated max and min points). matplotlib runs headless (Agg).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from waddleperf.profiling.summary import avg_max_min, by_source, series

PANELS = (
    ("cpu_pct", "CPU (% of machine)"),
    ("rss_mb", "RSS (MiB)"),
    ("uss_mb", "USS (MiB)"),
    ("threads_count", "threads"),
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display here, ever
    import matplotlib.pyplot as plt

    return plt


def _panel(ax: Any, group: Sequence[Mapping[str, Any]], field: str, label: str, name: str) -> None:
    points = [
        (float(s["time"]), float(s[field])) for s in group if isinstance(s.get(field), int | float)
    ]
    if not points:
        ax.set_visible(False)
        return
    t0 = points[0][0]
    xs = [t - t0 for t, _ in points]
    ys = [v for _, v in points]
    (line,) = ax.plot(xs, ys, label=name)
    stats = avg_max_min(ys)
    assert stats is not None
    color = line.get_color()
    ax.axhline(
        stats["avg"],
        color=color,
        linestyle="--",
        linewidth=0.8,
        label=f"{name} avg {stats['avg']:.1f}",
    )
    for stat, marker in (("max", "^"), ("min", "v")):
        i = ys.index(stats[stat])
        ax.plot([xs[i]], [ys[i]], marker=marker, color=color)
        ax.annotate(
            f"{stat} {ys[i]:.1f}",
            (xs[i], ys[i]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    ax.set_ylabel(label)
    ax.set_xlabel("seconds")
    ax.grid(alpha=0.3)


def plot_source(samples: Sequence[Mapping[str, Any]], name: str, path: Path) -> Path:
    """One PNG for one source: CPU, RSS, USS and threads over time."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(8, 2.4 * len(PANELS)), sharex=True)
    for ax, (field, label) in zip(axes, PANELS, strict=True):
        _panel(ax, samples, field, label, name)
    axes[0].set_title(f"{name}: resource use")
    axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_comparison(groups: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path:
    """One PNG laying the sources' CPU and RSS curves over each other."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for name, group in groups.items():
        for ax, (field, label) in zip(axes, PANELS[:2], strict=True):
            if series(group, field):
                _panel(ax, group, field, label, name)
    axes[0].set_title("comparison")
    for ax in axes:
        if ax.get_visible():
            ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_all(samples: Sequence[Mapping[str, Any]], directory: Path, prefix: str = "") -> list[Path]:
    """A PNG per source plus a comparison PNG (system excluded from it) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    groups = by_source(dict(s) for s in samples)
    out = [
        plot_source(g, name, directory / f"{prefix}profile-{_file(name)}.png")
        for name, g in groups.items()
    ]
    processes = {n: g for n, g in groups.items() if n != "system"}
    if processes:
        out.append(plot_comparison(processes, directory / f"{prefix}profile-comparison.png"))
    return out


def _file(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
