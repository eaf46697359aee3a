"""The History charts: SmokePing-style latency per agent × server, loss and throughput over
time, all on one set of bucket edges chosen from the view's time range.

Latency comes from the report's own :func:`waddleperf.report.summarize.latency_series`
(median, p10–p90 and p25–p75 bands, loss per bucket); loss and throughput are means per bucket
of the typed columns (:mod:`waddleperf.report.figures`), as columns on the shared ``axis``
(``values[i]`` and ``counts[i]`` belong to ``axis[i]``: what uPlot draws).
Buckets: :mod:`waddleperf.report.buckets` (at most 120 per chart, round widths,
edges on multiples of the width).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from waddleperf.report import summarize
from waddleperf.report.buckets import bucket_width, edges
from waddleperf.report.scope import iso
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState

if TYPE_CHECKING:
    import duckdb


def _bucketed(cur: duckdb.DuckDBPyConnection, width: int,
              axis: list[datetime]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Mean loss ratio and throughput per agent × server × kind and bucket, in one scan."""
    rows = cur.execute(f"""SELECT agent, server, kind,
            CAST(floor(epoch(started_at) / {width}) AS BIGINT) * {width} AS b,
            avg(loss_ratio), count(loss_ratio), avg(throughput_bps), count(throughput_bps)
        FROM results WHERE loss_ratio IS NOT NULL OR throughput_bps IS NOT NULL
        GROUP BY ALL""").fetchall()
    cells: dict[str, dict[tuple[str, str, str], dict[int, tuple[float, int]]]] = {
        "loss": {}, "throughput": {}}  # fmt: skip
    for agent, server, kind, bucket, loss, n_loss, tput, n_tput in rows:
        for name, value, n in (("loss", loss, n_loss), ("throughput", tput, n_tput)):
            if n:
                cells[name].setdefault((agent, server, kind), {})[int(bucket)] = (
                    float(value), int(n))  # fmt: skip
    keys = [int(edge.timestamp()) for edge in axis]
    out: dict[str, list[dict[str, Any]]] = {}
    for name, chart in cells.items():
        out[name] = []
        for (agent, server, kind), mine in sorted(chart.items()):
            got = [mine.get(key) for key in keys]
            out[name].append({"agent": agent, "server": server, "kind": kind, "bucket_s": width,
                              "values": [c[0] if c else None for c in got],
                              "counts": [c[1] if c else 0 for c in got]})  # fmt: skip
    return out


def charts(cat: Catalog, state: ViewState, now: datetime | None = None) -> dict[str, Any]:
    """Every chart of the view: ``{"window", "bucket_s", "latency", "loss", "throughput"}``.

    The window is the view's time range; without one, the first and last record's start."""
    filters = state.filters(now or datetime.now(UTC))

    def compute() -> dict[str, Any]:
        with cat.scoped(filters) as cur:
            first, last = filters.since, filters.until
            if first is None or last is None:
                data_first, data_last = summarize.window(cur)
                first, last = first or data_first, last or data_last
            if first is None or last is None:
                return {"window": None, "bucket_s": None, "axis": [], "latency": [], "loss": [],
                        "throughput": []}  # fmt: skip
            width = bucket_width(first, last)
            axis = edges(first, last, width)
            kind = state.kinds[0] if len(state.kinds) == 1 else None
            return {
                "window": {"first": iso(first), "last": iso(last)},
                "bucket_s": width,
                "axis": [iso(edge) for edge in axis],
                "latency": summarize.latency_series(cur, first, last, kind),
                **_bucketed(cur, width, axis),
            }

    return cat.cached(("charts", filters, state.kinds), compute)
