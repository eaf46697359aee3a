"""Rendering result records for people (rich tables) and programs (the JSON record as is)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from waddleperf.results.model import METRIC_UNITS, MetricValue, Result, Scalar, Status

STATUS_STYLE = {Status.OK: "bold green", Status.DEGRADED: "bold yellow", Status.FAILED: "bold red"}
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


def _three_figures(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def humanise_bytes(count: float) -> tuple[str, str]:
    """A byte count as (value, unit) a person reads: exact below 10 KiB, then KiB…TiB."""
    if abs(count) < EXACT_BYTES_BELOW:
        return (str(int(count)) if float(count).is_integer() else f"{count:.1f}"), "bytes"
    step = 0
    while abs(count) >= 1024 and step < len(BYTE_UNITS) - 1:
        count, step = count / 1024, step + 1
    return _three_figures(count), BYTE_UNITS[step]


def humanise_rate(bits_per_s: float) -> tuple[str, str]:
    """A rate in bit/s as (value, unit) in the largest decimal unit that keeps it ≥ 1."""
    step = 0
    while abs(bits_per_s) >= 1000 and step < len(RATE_UNITS) - 1:
        bits_per_s, step = bits_per_s / 1000, step + 1
    return _three_figures(bits_per_s), RATE_UNITS[step]


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


def result_table(result: Result) -> Table:
    """The metrics of a record as a three-column table (metric, value, unit)."""
    table = Table(title=f"{result.kind}  {result.target}", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for name, value in result.metrics.items():
        table.add_row(*metric_cells(name, value))
    return table


def info_table(result: Result) -> Table | None:
    """The non-numeric facts of a record (address, TLS version…), or None if there are none."""
    if not result.info:
        return None
    table = Table(show_header=False, box=None, padding=(0, 1))
    for key, value in result.info.items():
        table.add_row(Text(key.replace("_", " "), style="dim"), format_value(value))
    return table


def status_line(result: Result) -> Text:
    """``status: ok (1.23 s)`` with the error sentence below when there is one."""
    text = Text("status: ")
    text.append(result.status.value, style=STATUS_STYLE[result.status])
    text.append(f"  ({result.duration_s:.2f} s)")
    if result.samples_dropped:
        text.append(f"  [{result.samples_dropped} samples beyond the cap not kept]")
    if result.error:
        text.append("\nerror: ", style="bold")
        text.append(result.error)
    return text


#: Probes whose samples are rows worth a table of their own: kind → (title, sample columns).
SAMPLE_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "probe.trace": (
        "hops",
        ("hop", "address", "name", "loss_pct", "sent_count", "rtt_last_ms", "rtt_avg_ms",
         "rtt_best_ms", "rtt_worst_ms", "rtt_stdev_ms"),
    ),
}  # fmt: skip


#: Sample columns never wrapped or cut.
WHOLE_COLUMNS = ("address",)


def samples_table(result: Result) -> Table | None:
    """The per-row samples of probes that report rows (trace hops, mtr style), else None."""
    spec = SAMPLE_TABLES.get(result.kind)
    if spec is None or not result.samples:
        return None
    title, columns = spec
    table = Table(title=title, title_justify="left")
    for column in columns:
        label, unit = split_metric(column)
        header = f"{label} ({unit})" if unit else label
        cells = [format_value(sample.get(column)) for sample in result.samples]
        widest = max(len(cell) for cell in cells)
        if column in WHOLE_COLUMNS:
            # An address cut to "2001:db8:…" is useless: the column is as wide as its longest.
            table.add_column(header, no_wrap=True, min_width=max(widest, len(header)))
        elif column == "name":
            table.add_column(header, overflow="fold", min_width=min(widest, 16))
        else:
            # Numbers are short; their headers may wrap, the numbers never.
            table.add_column(header, justify="right", min_width=widest)
    for sample in result.samples:
        table.add_row(*(format_value(sample.get(c)) for c in columns))
    return table


def render(result: Result) -> Group:
    """Everything a person needs from one record, ready for ``console.print``."""
    parts: list[Table | Text] = [result_table(result)]
    rows = samples_table(result)
    if rows is not None:
        parts.append(rows)
    info = info_table(result)
    if info is not None:
        parts.append(info)
    parts.append(status_line(result))
    return Group(*parts)


def print_result(result: Result, console: Console | None = None) -> None:
    """Print a record as a table (stdout by default)."""
    # No :emoji: codes in target names or errors (and their table costs ~0.03 s to import).
    (console or Console(emoji=False)).print(render(result))


def print_json(result: Result) -> None:
    """Print exactly the record's JSON (one document, newline-terminated) to stdout."""
    print(result.to_json(indent=2))
