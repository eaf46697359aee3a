"""The summary document from a report's views, checked against its model, and its files.

``summary.json`` is written atomically; the renderer (:mod:`waddleperf.report.render`) then
writes ``report.html``, ``summary.md`` and the PNG charts from the same dictionary.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from waddleperf.report import regress, summarize
from waddleperf.report.scope import Filters, iso
from waddleperf.report.summary_model import SUMMARY_SCHEMA, Summary
from waddleperf.results.atomic import atomic_write_bytes

if TYPE_CHECKING:
    import duckdb

SUMMARY_FILE = "summary.json"
BASELINE = "baseline_"


class RendererMissing(RuntimeError):
    """The HTML/Markdown/PNG renderer is not installed with this build."""


def build_summary(con: duckdb.DuckDBPyConnection, sources: Sequence[str], filters: Filters, *,
                  series_kind: str | None = None, thresholds: regress.Thresholds | None = None,
                  baseline: bool = False) -> dict[str, Any]:  # fmt: skip
    """The summary of the views (and of the ``baseline_`` views when ``baseline``), checked."""
    first, last = summarize.window(con)
    regressions = None
    if baseline:
        limits = thresholds or regress.Thresholds()
        rows = regress.compare(summarize.groups(con, BASELINE), summarize.groups(con), limits)
        regressions = regress.regressions(rows, limits)
    doc = {
        "schema": SUMMARY_SCHEMA,
        "generated_at": iso(datetime.now(UTC)),
        "sources": list(sources),
        "filters": filters.as_dict(),
        "window": {"first": _t(first), "last": _t(last)},
        "totals": summarize.totals(con),
        "probes": summarize.probes(con),
        "geo": summarize.geo(con),
        "latency_series": summarize.latency_series(con, first, last, series_kind),
        "escalations": summarize.escalations(con),
        "load": summarize.load_runs(con),
        "profiling": summarize.profiling(con),
        "comparison": summarize.comparison(con),
        "regressions": regressions,
        "data_quality": summarize.data_quality(con),
    }
    # The model is the contract with the renderer: a drift fails here, not in a browser.
    return Summary.model_validate(doc).model_dump(mode="json", by_alias=True)


def _t(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def write_summary(summary: dict[str, Any], out_dir: Path) -> Path:
    """Write ``summary.json`` into ``out_dir`` atomically; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SUMMARY_FILE
    text = json.dumps(summary, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode())
    return path


def renderer() -> Callable[[dict[str, Any], Path], list[Path]]:
    """``waddleperf.report.render.render``, or RendererMissing saying so."""
    try:
        module = importlib.import_module("waddleperf.report.render")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("waddleperf.report.render"):
            raise RendererMissing(
                "the report renderer (waddleperf.report.render) is not part of this build: "
                "only summary.json was written"
            ) from None
        raise
    render: Callable[[dict[str, Any], Path], list[Path]] = module.render
    return render
