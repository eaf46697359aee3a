"""Figures as a person reads them: milliseconds, bit/s, bytes, ratios, counts and times.

Pure functions over the summary's numbers (units in the key names, as in ``summary.json``).
A figure that is missing (``None``, not a number) prints as :data:`NONE`, never as 0.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from waddleperf.output import NOT_MEASURED, RATE_UNITS, scaled, three_figures

NONE = NOT_MEASURED  # the same mark for a missing figure as the probe commands' tables

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is missing, not a number, NaN or infinite
    (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def ms(value: Any) -> str:
    """A duration given in milliseconds: ``0.412 ms``, ``23.4 ms``, ``1.25 s``."""
    v = number(value)
    if v is None:
        return NONE
    if abs(v) >= 1000:
        return f"{three_figures(v / 1000)} s"
    return f"{three_figures(v)} ms"


def bps(value: Any) -> str:
    """A rate given in bit/s, with SI prefixes: ``94.1 Mbit/s``."""
    v = number(value)
    return NONE if v is None else " ".join(scaled(v, 1000.0, RATE_UNITS))


def size(value: Any) -> str:
    """A size given in bytes, with binary prefixes: ``48.2 MiB``."""
    v = number(value)
    return NONE if v is None else " ".join(scaled(v, 1024.0, _BYTE_UNITS))


def pct(value: Any) -> str:
    """A ratio 0–1 as a percentage: ``0.0125`` → ``1.25 %``."""
    v = number(value)
    return NONE if v is None else f"{three_figures(v * 100)} %"


def percent(value: Any) -> str:
    """A figure already in percent (CPU share): ``37.5 %``."""
    v = number(value)
    return NONE if v is None else f"{three_figures(v)} %"


def times(value: Any) -> str:
    """A factor (current / baseline, b / a): ``×1.15``."""
    v = number(value)
    return NONE if v is None else f"×{v:.2f}"


def plain(value: Any) -> str:
    """A number with no unit: integers with thousands separators, others to 3 figures."""
    v = number(value)
    if v is None:
        return NONE
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return three_figures(v)


def count(value: Any) -> str:
    """A count: ``12,345``."""
    return plain(value)


def per_second(value: Any) -> str:
    """A rate in events per second: ``412 /s``."""
    v = number(value)
    return NONE if v is None else f"{three_figures(v)} /s"


# Control characters become spaces (then runs of white space one space): a name from the field
# cannot break a Markdown table row or a line of the page.
_CONTROLS = {c: " " for c in (*range(0x20), 0x7F)}

_BY_SUFFIX = (
    ("_ms", ms),
    ("_bps", bps),
    ("_bytes", size),
    ("_ratio", pct),
    ("_percent", percent),
    ("rps", per_second),
)


def by_metric(metric: str, value: Any) -> str:
    """``value`` formatted for the unit that ``metric``'s name carries (``p95_ms``, ``rps``,
    ``loss_ratio``…); a name without a known unit gets a plain number."""
    for suffix, formatter in _BY_SUFFIX:
        if metric.endswith(suffix):
            return formatter(value)
    return plain(value)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset) as an aware UTC datetime; None when it is not
    one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch(value: Any) -> float | None:
    """An RFC 3339 time as Unix seconds (None when it is not one)."""
    parsed = parse_time(value)
    return None if parsed is None else parsed.timestamp()


def when(value: Any) -> str:
    """An RFC 3339 time as ``2026-05-01 12:00:05 UTC`` (the text itself when it does not
    parse, so nothing from the data is lost)."""
    parsed = parse_time(value)
    if parsed is None:
        return NONE if value is None else str(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC")


def text(value: Any) -> str:
    """Any value from the data as one line of text (missing: :data:`NONE`)."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return plain(value)
    return " ".join(str(value).translate(_CONTROLS).split())
