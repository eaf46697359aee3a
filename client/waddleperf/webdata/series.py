"""The History charts: SmokePing-style latency per agent × server, loss and throughput over
time, all on one set of bucket edges chosen from the view's time range.

Latency has the figures of the report's :func:`waddleperf.report.summarize.latency_series`
(median, p10–p90 and p25–p75 bands, loss per bucket; a test holds them equal), computed in two
queries instead of its three: one scan gives loss, throughput and which kinds each agent ×
server has, then quantiles only over the chosen kinds. Loss and throughput are means per bucket
of the typed columns (:mod:`waddleperf.report.figures`), as columns on the shared ``axis``
(``values[i]`` and ``counts[i]`` belong to ``axis[i]``: what uPlot draws).
Buckets: :mod:`waddleperf.report.buckets` (at most 120 per chart, round widths,
edges on multiples of the width).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from waddleperf.report import summarize
from waddleperf.report.buckets import bucket_width, edges
from waddleperf.report.scope import Filters, iso
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState

if TYPE_CHECKING:
    import duckdb


def _bucket(width: int) -> str:
    return f"CAST(floor(epoch(started_at) / {width}) AS BIGINT) * {width}"


def _scan(cur: duckdb.DuckDBPyConnection, width: int) -> list[tuple[Any, ...]]:
    """One scan into the cursor's temp table ``chart_cells`` (per agent × server × kind ×
    bucket: rows, mean loss, mean throughput); returns the agent × server × kind present."""
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE chart_cells AS SELECT agent, server, kind,
            {_bucket(width)} AS b, count(*) AS n,
            {summarize.mean("loss_ratio")} AS loss, count(loss_ratio) AS n_loss,
            {summarize.mean("throughput_bps")} AS tput, count(throughput_bps) AS n_tput
        FROM results GROUP BY ALL""")  # fmt: skip
    return cur.execute("SELECT DISTINCT agent, server, kind FROM chart_cells").fetchall()


def _cells(
    cur: duckdb.DuckDBPyConnection, width: int, axis: list[datetime]
) -> list[tuple[Any, ...]]:
    """Per agent × server × kind with loss or throughput figures: for each, the axis positions
    and the bucket means and counts, as lists (a few hundred rows instead of one per cell)."""
    a0 = int(axis[0].timestamp())
    pos = f"CAST((b - {a0}) // {width} AS INTEGER)"
    return cur.execute(f"""SELECT agent, server, kind,
            list({pos} ORDER BY b) FILTER (WHERE n_loss > 0),
            list(loss ORDER BY b) FILTER (WHERE n_loss > 0),
            list(n_loss ORDER BY b) FILTER (WHERE n_loss > 0),
            list({pos} ORDER BY b) FILTER (WHERE n_tput > 0),
            list(tput ORDER BY b) FILTER (WHERE n_tput > 0),
            list(n_tput ORDER BY b) FILTER (WHERE n_tput > 0)
        FROM chart_cells WHERE n_loss > 0 OR n_tput > 0 GROUP BY ALL ORDER BY ALL""").fetchall()


def _chosen(rows: list[tuple[Any, ...]], kind: str | None) -> dict[tuple[str, str], str]:
    """Per agent × server the latency chart's kind: the view's one kind, else the first of
    :data:`~waddleperf.report.summarize.SERIES_KINDS` it has records of (as the report)."""
    prefs = [kind] if kind else list(summarize.SERIES_KINDS)
    rank = {k: i for i, k in enumerate(prefs)}
    chosen: dict[tuple[str, str], str] = {}
    for agent, server, k, *_ in rows:
        if k in rank:
            best = chosen.get((agent, server))
            if best is None or rank[k] < rank[best]:
                chosen[(agent, server)] = k
    return dict(sorted(chosen.items()))


def _latency(cur: duckdb.DuckDBPyConnection, width: int, axis: list[datetime],
             chosen: dict[tuple[str, str], str]) -> list[dict[str, Any]]:  # fmt: skip
    """The SmokePing series (:func:`waddleperf.report.summarize.latency_series`'s figures):
    quantiles only over the chosen kinds' records."""
    if not chosen:
        return []
    kinds = sorted(set(chosen.values()))
    rows = cur.execute(f"""SELECT agent, server, kind, {_bucket(width)} AS b, count(*),
            quantile_cont(latency_ms, [0.1, 0.25, 0.5, 0.75, 0.9]),
            {summarize.mean("loss_ratio")}
        FROM results WHERE kind IN ({", ".join("?" for _ in kinds)}) GROUP BY ALL""",
        kinds).fetchall()  # fmt: skip
    cells: dict[tuple[str, str], dict[int, tuple[int, Any, Any]]] = {}
    for agent, server, kind, bucket, n, q, loss in rows:
        if chosen.get((agent, server)) == kind:
            cells.setdefault((agent, server), {})[int(bucket)] = (int(n), q, loss)
    out = []
    stamps = [(int(edge.timestamp()), iso(edge)) for edge in axis]
    for (agent, server), kind in chosen.items():
        mine = cells.get((agent, server), {})
        points = []
        for key, t in stamps:
            n, q, loss = mine.get(key, (0, None, None))
            qs = list(q) if q is not None else [None] * 5
            points.append({"t": t, "count": n, "p10": qs[0], "p25": qs[1], "p50": qs[2],
                           "p75": qs[3], "p90": qs[4], "loss_ratio": loss})  # fmt: skip
        out.append({"agent": agent, "server": server, "kind": kind, "bucket_s": width,
                    "points": points})  # fmt: skip
    return out


def _latency_scoped(cat: Catalog, filters: Filters, width: int, axis: list[datetime],
                    chosen: dict[tuple[str, str], str]) -> list[dict[str, Any]]:  # fmt: skip
    with cat.scoped(filters) as cur:
        return _latency(cur, width, axis, chosen)


def _columns(rows: list[tuple[Any, ...]], width: int,
             axis: list[datetime]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Mean loss ratio and throughput per agent × server × kind, as columns on ``axis``."""
    size = len(axis)
    out: dict[str, list[dict[str, Any]]] = {"loss": [], "throughput": []}
    for agent, server, kind, *lists in rows:  # _cells' rows, sorted
        for name, (where, means, counts) in (("loss", lists[:3]), ("throughput", lists[3:])):
            if not where:
                continue
            values: list[float | None] = [None] * size
            numbers = [0] * size
            for i, value, n in zip(where, means, counts, strict=True):
                if 0 <= i < size:
                    values[i], numbers[i] = float(value), int(n)
            out[name].append({"agent": agent, "server": server, "kind": kind, "bucket_s": width,
                              "values": values, "counts": numbers})  # fmt: skip
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
            chosen = _chosen(_scan(cur, width), kind)
            # The quantiles run on a cursor of their own while this thread turns the cells
            # into columns (DuckDB releases the GIL: the two overlap on two cores).
            with ThreadPoolExecutor(1, thread_name_prefix="ui-charts") as pool:
                latency = pool.submit(_latency_scoped, cat, filters, width, axis, chosen)
                columns = _columns(_cells(cur, width, axis), width, axis)
                return {
                    "window": {"first": iso(first), "last": iso(last)},
                    "bucket_s": width,
                    "axis": [iso(edge) for edge in axis],
                    "latency": latency.result(),
                    **columns,
                }

    return cat.cached(("charts", filters, state.kinds), compute)
