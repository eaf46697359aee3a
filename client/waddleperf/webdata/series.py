"""The History charts: SmokePing-style latency per agent × server, loss and throughput over
time, all on one set of bucket edges chosen from the view's time range.

Latency has the figures of the report's :func:`waddleperf.report.summarize.latency_series`
(median, p10–p90 and p25–p75 bands, loss per bucket; a test holds them equal), computed in one
scan instead of its three: loss, throughput, which kinds each agent × server has and the
quantiles of the first-choice kind (icmp, or the view's kind) come back as lists per series
(a few hundred rows reach Python); only pairs without that kind cost a second query.
Loss and throughput are means per bucket of the typed columns
(:mod:`waddleperf.report.figures`), as columns on the shared ``axis`` (``values[i]`` and
``counts[i]`` belong to ``axis[i]``: what uPlot draws). Buckets:
:mod:`waddleperf.report.buckets` (at most 120 per chart, round widths, edges on multiples
of the width).
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


def _bucket(width: int) -> str:
    return f"CAST(floor(epoch(started_at) / {width}) AS BIGINT) * {width}"


QUANTILES = "[0.1, 0.25, 0.5, 0.75, 0.9]"
#: Decimals the charts carry (none draws finer): ms to 0.1 µs, loss ratio to 1e-6, whole bit/s.
LATENCY_DECIMALS, LOSS_DECIMALS = 4, 6


def _quantiles(where: str = "") -> str:
    inner = f"quantile_cont(latency_ms, {QUANTILES}){where}"
    return f"list_transform({inner}, lambda x: round(x, {LATENCY_DECIMALS}))"


def _prefs(kind: str | None) -> list[str]:
    return [kind] if kind else list(summarize.SERIES_KINDS)


def _cells(cur: duckdb.DuckDBPyConnection, width: int, axis: list[datetime],
           first: str) -> list[tuple[Any, ...]]:  # fmt: skip
    """One scan, one row per agent × server × kind present: its loss and throughput as lists
    of axis positions, bucket means and counts (empty where it has none), and for the
    latency chart's first-choice kind ``first`` its per-bucket record counts and latency
    quantiles. A few hundred rows reach Python instead of one per bucket."""
    a0 = int(axis[0].timestamp())
    return cur.execute(f"""SELECT agent, server, kind,
            list(i ORDER BY i) FILTER (WHERE n_loss > 0),
            list(round(loss, {LOSS_DECIMALS}) ORDER BY i) FILTER (WHERE n_loss > 0),
            list(n_loss ORDER BY i) FILTER (WHERE n_loss > 0),
            list(i ORDER BY i) FILTER (WHERE n_tput > 0),
            list(round(tput) ORDER BY i) FILTER (WHERE n_tput > 0),
            list(n_tput ORDER BY i) FILTER (WHERE n_tput > 0),
            list(i ORDER BY i) FILTER (WHERE kind = $first),
            list(n ORDER BY i) FILTER (WHERE kind = $first),
            list(q ORDER BY i) FILTER (WHERE kind = $first),
            list(round(loss, {LOSS_DECIMALS}) ORDER BY i) FILTER (WHERE kind = $first)
        FROM (SELECT agent, server, kind,
                CAST(({_bucket(width)} - {a0}) // {width} AS INTEGER) AS i, count(*) AS n,
                {summarize.mean("loss_ratio")} AS loss, count(loss_ratio) AS n_loss,
                {summarize.mean("throughput_bps")} AS tput, count(throughput_bps) AS n_tput,
                {_quantiles(" FILTER (WHERE kind = $first)")} AS q
              FROM results GROUP BY ALL)
        GROUP BY ALL ORDER BY ALL""", {"first": first}).fetchall()  # fmt: skip


def _chosen(rows: list[tuple[Any, ...]], kind: str | None) -> dict[tuple[str, str], str]:
    """Per agent × server the latency chart's kind: the view's one kind, else the first of
    :data:`~waddleperf.report.summarize.SERIES_KINDS` it has records of (as the report)."""
    rank = {k: i for i, k in enumerate(_prefs(kind))}
    chosen: dict[tuple[str, str], str] = {}
    for agent, server, k, *_ in rows:
        if k in rank:
            best = chosen.get((agent, server))
            if best is None or rank[k] < rank[best]:
                chosen[(agent, server)] = k
    return dict(sorted(chosen.items()))


Cells = dict[tuple[str, str], dict[int, tuple[int, Any, Any]]]


def _first_choice(rows: list[tuple[Any, ...]], first: str, size: int) -> Cells:
    """The latency cells the scan computed: those of the first-choice kind."""
    cells: Cells = {}
    for agent, server, kind, *lists in rows:
        if kind == first and lists[6]:
            found = zip(*lists[6:10], strict=True)
            cells[(agent, server)] = {i: (int(n), q, loss) for i, n, q, loss in found
                                      if 0 <= i < size}  # fmt: skip
    return cells


def _other_choices(cur: duckdb.DuckDBPyConnection, width: int, axis: list[datetime],
                   wanted: dict[tuple[str, str], str]) -> Cells:  # fmt: skip
    """Latency cells of agent × server pairs whose chosen kind is not the first choice (a
    second query; none when every pair has the first choice, as a default fleet has)."""
    if not wanted:
        return {}
    a0, size = int(axis[0].timestamp()), len(axis)
    kinds = sorted(set(wanted.values()))
    rows = cur.execute(f"""SELECT agent, server, kind,
            CAST(({_bucket(width)} - {a0}) // {width} AS INTEGER) AS i, count(*),
            {_quantiles()}, round({summarize.mean("loss_ratio")}, {LOSS_DECIMALS})
        FROM results WHERE kind IN ({", ".join("?" for _ in kinds)}) GROUP BY ALL""",
        kinds).fetchall()  # fmt: skip
    cells: Cells = {}
    for agent, server, kind, i, n, q, loss in rows:
        if wanted.get((agent, server)) == kind and 0 <= i < size:
            cells.setdefault((agent, server), {})[int(i)] = (int(n), q, loss)
    return cells


def _latency(cur: duckdb.DuckDBPyConnection, width: int, axis: list[datetime],
             rows: list[tuple[Any, ...]], kind: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """The SmokePing series, one per agent × server, with the figures of
    :func:`waddleperf.report.summarize.latency_series` as columns on the shared axis:
    ``count``, ``p10`` … ``p90``, ``loss_ratio`` (``[i]`` belongs to ``axis[i]``)."""
    chosen = _chosen(rows, kind)
    first = _prefs(kind)[0]
    cells = _first_choice(rows, first, len(axis))
    cells.update(_other_choices(cur, width, axis, {k: v for k, v in chosen.items() if v != first}))
    size = len(axis)
    out = []
    for (agent, server), chosen_kind in chosen.items():
        mine = cells.get((agent, server), {})
        line: dict[str, Any] = {"agent": agent, "server": server, "kind": chosen_kind,
                                "bucket_s": width, "count": [0] * size}  # fmt: skip
        for key in ("p10", "p25", "p50", "p75", "p90", "loss_ratio"):
            line[key] = [None] * size
        for i, (n, q, loss) in mine.items():
            line["count"][i], line["loss_ratio"][i] = n, loss
            if q is not None:
                for key, value in zip(("p10", "p25", "p50", "p75", "p90"), q, strict=True):
                    line[key][i] = value
        out.append(line)
    return out


def _columns(rows: list[tuple[Any, ...]], width: int,
             axis: list[datetime]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Mean loss ratio and throughput per agent × server × kind, as columns on ``axis``."""
    size = len(axis)
    out: dict[str, list[dict[str, Any]]] = {"loss": [], "throughput": []}
    for agent, server, kind, *lists in rows:  # _cells' rows, sorted
        for name, (where, means, counts) in (("loss", lists[0:3]), ("throughput", lists[3:6])):
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
            cells = _cells(cur, width, axis, _prefs(kind)[0])
            return {
                "window": {"first": iso(first), "last": iso(last)},
                "bucket_s": width,
                "axis": [iso(edge) for edge in axis],
                "latency": _latency(cur, width, axis, cells, kind),
                **_columns(cells, width, axis),
            }

    return cat.cached(("charts", filters, state.kinds), compute)
