"""The outputs of ``waddleperf report`` made from its summary: ``report.html`` (one
self-contained page, uPlot charts), ``summary.md`` (Markdown tables) and one PNG per chart
(matplotlib).

:func:`render` is the only entry point; the summary's shape is ``summary.json``'s
(:mod:`waddleperf.report.summary_model`). Every output has every section — an empty one says
"none" — and a data-quality section listing the bundles that were skipped and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from waddleperf.report.render import html, markdown, png, sections
from waddleperf.report.summary_model import SUMMARY_SCHEMA
from waddleperf.results.atomic import atomic_write_bytes

HTML_NAME = "report.html"
MARKDOWN_NAME = "summary.md"
# A chart PNG's name (charts.build numbers them); older ones in the directory are removed so
# that the directory holds exactly one PNG per chart of this report.
_CHART_FILE = re.compile(r"chart-\d{2,}-[a-z0-9-]+\.png")

__all__ = ["HTML_NAME", "MARKDOWN_NAME", "SUMMARY_SCHEMA", "RenderError", "render"]


class RenderError(ValueError):
    """The summary cannot be rendered (not a summary, or of an unknown version); the message
    is one line naming what is wrong."""


def _check(summary: Any) -> Mapping[str, Any]:
    if not isinstance(summary, Mapping):
        raise RenderError(f"report summary: expected an object, got {type(summary).__name__}")
    schema = summary.get("schema")
    if schema != SUMMARY_SCHEMA:
        raise RenderError(f"report summary: schema {schema!r} is not {SUMMARY_SCHEMA!r}")
    return summary


def render(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``report.html``, ``summary.md`` and one PNG per chart for ``summary`` into
    ``out_dir`` (created if missing; each file written atomically) and return their paths:
    the page, the Markdown, then the PNGs in page order. Raises :class:`RenderError` when
    ``summary`` is not a summary of the known version."""
    report = sections.build(_check(summary))
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / HTML_NAME
    atomic_write_bytes(page, html.write(report).encode("utf-8"))
    notes = out_dir / MARKDOWN_NAME
    atomic_write_bytes(notes, markdown.write(report).encode("utf-8"))
    pictures = [out_dir / chart.file for chart in report.charts]
    png.draw_all(report.charts, pictures)
    written = [page, notes, *pictures]
    keep = {p.name for p in written}
    for old in out_dir.iterdir():
        if _CHART_FILE.fullmatch(old.name) and old.name not in keep and old.is_file():
            old.unlink(missing_ok=True)
    return written
