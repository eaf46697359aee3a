"""Rendering result records for people (plain-text tables) and programs (the JSON record).

The tables are drawn by ``waddleperf.tables`` (no rich: its import alone is a third of the
command's start-up budget); colour only on a terminal, and never with ``NO_COLOR`` set.
Byte counts and rates are humanised in the tables; the JSON record keeps the raw numbers.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from waddleperf.results.model import METRIC_UNITS, MetricValue, Result, Scalar, Status
from waddleperf.tables import Column, render_pairs, render_table, styled

STATUS_STYLE = {
    Status.OK: "bold green",
    Status.DEGRADED: "bold yellow",
    Status.FAILED: "bold red",
    Status.INTERRUPTED: "bold magenta",
}
NOT_MEASURED = "—"


def split_metric(name: str) -> tuple[str, str]:
    """``rtt_avg_ms`` → (``rtt avg``, ``ms``): the label and the unit read from the suffix."""
    stem, _, suffix = name.rpartition("_")
    if suffix in METRIC_UNITS and stem:
        return stem.replace("_", " "), METRIC_UNITS[suffix]
    return name.replace("_", " "), ""


def format_value(value: MetricValue | Scalar) -> str:
    """A number as a person reads it: ints whole, floats to 3 decimals (or 3 significant
    digits when tiny), None as an em dash."""
    if value is None:
        return NOT_MEASURED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and abs(value) < 0.001:
            return f"{value:.3g}"
        return f"{value:.3f}"
    return str(value)


#: Byte units → bytes; rate units → bit/s (the suffixes of METRIC_UNITS).
BYTE_SCALE = {"bytes": 1, "kb": 1024, "mb": 1024**2}
RATE_SCALE = {"bps": 1, "kbps": 1e3, "mbps": 1e6}
BYTE_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
RATE_UNITS = ("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s")
#: Byte counts below this stay exact (an MTU of 1500 is not "1.46 KiB").
EXACT_BYTES_BELOW = 10_240


def three_figures(value: float) -> str:
    """Three significant figures without an exponent: ``1.23``, ``12.3``, ``123``, ``1234``
    (whole numbers from 100 on; ``0`` for zero)."""
    size = abs(value)
    if size >= 100 or value == 0:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def scaled(value: float, step: float, units: tuple[str, ...]) -> tuple[str, str]:
    """``value`` (in ``units[0]``) divided by ``step`` until it is below one step or the units
    run out, as (three figures, unit)."""
    index = 0
    while abs(value) >= step and index < len(units) - 1:
        value, index = value / step, index + 1
    return three_figures(value), units[index]


def humanise_bytes(count: float) -> tuple[str, str]:
    """A byte count as (value, unit) a person reads: exact below 10 KiB, then KiB…TiB."""
    if abs(count) < EXACT_BYTES_BELOW:
        return (str(int(count)) if float(count).is_integer() else f"{count:.1f}"), "bytes"
    return scaled(count, 1024, BYTE_UNITS)


def humanise_rate(bits_per_s: float) -> tuple[str, str]:
    """A rate in bit/s as (value, unit) in the largest decimal unit that keeps it ≥ 1."""
    return scaled(bits_per_s, 1000, RATE_UNITS)


def metric_cells(name: str, value: MetricValue) -> tuple[str, str, str]:
    """(label, value, unit) of one metric; byte counts and rates humanised."""
    label, unit = split_metric(name)
    suffix = name.rpartition("_")[2]
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        if suffix in BYTE_SCALE and label:
            return (label, *humanise_bytes(value * BYTE_SCALE[suffix]))
        if suffix in RATE_SCALE and label:
            return (label, *humanise_rate(value * RATE_SCALE[suffix]))
    return label, format_value(value), unit


def metric_rows(result: Result) -> list[tuple[str, str, str]]:
    """(label, value, unit) of every metric worth showing: a failed or interrupted run's
    null figures are left out (its error says why), everything else is shown."""
    drop_nulls = result.status in (Status.FAILED, Status.INTERRUPTED)
    return [
        metric_cells(name, value)
        for name, value in result.metrics.items()
        if not (drop_nulls and value is None)
    ]


def result_table(result: Result, width: int = 80, color: bool = False) -> list[str]:
    """The metrics of a record as a three-column table (metric, value, unit); no lines when
    there is nothing to show (a failed run prints its status and error alone)."""
    rows = metric_rows(result)
    if not rows:
        return []
    columns = (Column("metric"), Column("value", justify="right"), Column("unit"))
    title = f"{result.kind}  {result.target}"
    return render_table(columns, rows, title=title, width=width, color=color)


def info_lines(result: Result, color: bool = False) -> list[str]:
    """The non-numeric facts of a record (address, TLS version…) as aligned pairs."""
    pairs = [(key.replace("_", " "), format_value(value)) for key, value in result.info.items()]
    return render_pairs(pairs, color=color)


def status_lines(result: Result, color: bool = False) -> list[str]:
    """``status: ok  (1.23 s)`` with the error sentence below when there is one."""
    line = f"status: {styled(result.status.value, STATUS_STYLE[result.status], color)}"
    line += f"  ({result.duration_s:.2f} s)"
    if result.samples_dropped:
        line += f"  [{result.samples_dropped} samples beyond the cap not kept]"
    lines = [line]
    if result.error:
        lines.append(f"{styled('error:', 'bold', color)} {result.error}")
    return lines


#: Probes whose samples are rows worth a table of their own: kind → (title, sample columns).
SAMPLE_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "probe.trace": (
        "hops",
        ("hop", "address", "name", "loss_pct", "sent_count", "rtt_last_ms", "rtt_avg_ms",
         "rtt_best_ms", "rtt_worst_ms", "rtt_stdev_ms"),
    ),
}  # fmt: skip
#: Sample columns that may wrap on a narrow terminal; every other one is never cut or wrapped
#: (an address cut to "2001:db8:…" is useless).
FOLD_COLUMNS = ("name",)
#: Text columns; the rest are numbers, right-aligned.
TEXT_COLUMNS = ("address", "name")


def samples_table(result: Result, width: int = 80, color: bool = False) -> list[str] | None:
    """The per-row samples of probes that report rows (trace hops, mtr style), else None."""
    spec = SAMPLE_TABLES.get(result.kind)
    if spec is None or not result.samples:
        return None
    title, names = spec
    # A column no row has anything in (no reverse names looked up) is left out.
    names = tuple(n for n in names if any(s.get(n) is not None for s in result.samples))
    columns = []
    for name in names:
        label, unit = split_metric(name)
        columns.append(
            Column(
                f"{label} ({unit})" if unit else label,
                justify="left" if name in TEXT_COLUMNS else "right",
                fold=name in FOLD_COLUMNS,
                min_width=16,
                fold_header=name not in TEXT_COLUMNS,
            )
        )
    rows = [[format_value(sample.get(name)) for name in names] for sample in result.samples]
    return render_table(columns, rows, title=title, width=width, color=color)


def render(result: Result, width: int = 80, color: bool = False) -> list[str]:
    """Everything a person needs from one record, as lines."""
    lines = result_table(result, width, color)
    lines += samples_table(result, width, color) or []
    lines += info_lines(result, color)
    return lines + status_lines(result, color)


def use_color(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is set or the terminal is dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def print_result(result: Result, stream: TextIO | None = None) -> None:
    """Print a record as tables (stdout by default), as wide as the terminal."""
    out = stream or sys.stdout
    width = shutil.get_terminal_size().columns
    out.write("\n".join(render(result, width, use_color(out))) + "\n")
    out.flush()
