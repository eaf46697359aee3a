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

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from waddleperf.report import summarize
from waddleperf.report.buckets import bucket_width, edges, index_sql
from waddleperf.report.scope import Filters, iso
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState

if TYPE_CHECKING:
    import duckdb


QUANTILES = "[0.1, 0.25, 0.5, 0.75, 0.9]"
BANDS = ("p10", "p25", "p50", "p75", "p90")
#: Decimals the charts carry (none draws finer): ms to 0.1 µs, loss ratio to 1e-6, whole bit/s.
LATENCY_DECIMALS, LOSS_DECIMALS = 4, 6


def _quantiles(where: str = "") -> str:
    inner = f"quantile_cont(latency_ms, {QUANTILES}){where}"
    return f"list_transform({inner}, lambda x: round(x, {LATENCY_DECIMALS}))"


def _prefs(kind: str | None) -> list[str]:
    return [kind] if kind else list(summarize.SERIES_KINDS)


#: SQL of the per-band lists of a latency cell's quantiles ``q`` (p10 … p90), by position.
_BAND_LISTS = ", ".join(f"list(q[{n}] ORDER BY i)" for n in range(1, len(BANDS) + 1))


def _cells(cur: duckdb.DuckDBPyConnection, width: int, a0: int,
           first: str) -> list[tuple[Any, ...]]:  # fmt: skip
    """One scan, one row per agent × server × kind present: its loss and throughput as lists
    of axis positions, bucket means and counts (empty where it has none), and for the
    latency chart's first-choice kind ``first`` :data:`Latency`'s lists. A few hundred rows
    reach Python instead of one per bucket."""
    bands = _BAND_LISTS.replace(" ORDER BY i)", " ORDER BY i) FILTER (WHERE kind = $first)")
    return cur.execute(f"""SELECT agent, server, kind,
            list(i ORDER BY i) FILTER (WHERE n_loss > 0),
            list(round(loss, {LOSS_DECIMALS}) ORDER BY i) FILTER (WHERE n_loss > 0),
            list(n_loss ORDER BY i) FILTER (WHERE n_loss > 0),
            list(i ORDER BY i) FILTER (WHERE n_tput > 0),
            list(round(tput) ORDER BY i) FILTER (WHERE n_tput > 0),
            list(n_tput ORDER BY i) FILTER (WHERE n_tput > 0),
            list(i ORDER BY i) FILTER (WHERE kind = $first),
            list(n ORDER BY i) FILTER (WHERE kind = $first), {bands},
            list(round(loss, {LOSS_DECIMALS}) ORDER BY i) FILTER (WHERE kind = $first)
        FROM (SELECT agent, server, kind,
                {index_sql("started_at", width, a0)} AS i, count(*) AS n,
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


#: A latency series as lists by axis position: positions, counts, p10 … p90, loss ratio.
Latency = tuple[list[int], list[int], list[Any], list[Any], list[Any], list[Any], list[Any],
                list[Any]]  # fmt: skip


def _dense(where: list[int], values: list[Any], size: int, fill: Any) -> list[Any]:
    """``values`` at axis positions ``where`` (sorted, distinct) as a column of ``size``;
    the list itself when it already fills every position (the common, full case)."""
    if len(where) == size and where[0] == 0 and where[-1] == size - 1:
        return values
    out = [fill] * size
    for i, value in zip(where, values, strict=True):
        if 0 <= i < size:
            out[i] = value
    return out


Pairs = dict[tuple[str, str], Latency]


def _other_choices(cur: duckdb.DuckDBPyConnection, width: int, a0: int,
                   wanted: dict[tuple[str, str], str]) -> Pairs:  # fmt: skip
    """Latency of agent × server pairs whose chosen kind is not the first choice (a second
    query; none when every pair has the first choice, as a default fleet has)."""
    if not wanted:
        return {}
    kinds = sorted(set(wanted.values()))
    rows = cur.execute(f"""SELECT agent, server, kind, list(i ORDER BY i), list(n ORDER BY i),
            {_BAND_LISTS}, list(loss ORDER BY i)
        FROM (SELECT agent, server, kind, {index_sql("started_at", width, a0)} AS i,
                count(*) AS n, {_quantiles()} AS q,
                round({summarize.mean("loss_ratio")}, {LOSS_DECIMALS}) AS loss
              FROM results WHERE kind IN ({", ".join("?" for _ in kinds)}) GROUP BY ALL)
        GROUP BY ALL""", kinds).fetchall()  # fmt: skip
    return {(agent, server): tuple(lists) for agent, server, kind, *lists in rows
            if wanted.get((agent, server)) == kind}  # fmt: skip


def _latency(cur: duckdb.DuckDBPyConnection, width: int, a0: int, size: int,
             rows: list[tuple[Any, ...]], kind: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """The SmokePing series, one per agent × server, with the figures of
    :func:`waddleperf.report.summarize.latency_series` as columns on the shared axis:
    ``count``, ``p10`` … ``p90``, ``loss_ratio`` (``[i]`` belongs to ``axis[i]``)."""
    chosen = _chosen(rows, kind)
    first = _prefs(kind)[0]
    found: Pairs = {
        (agent, server): tuple(lists[6:14])
        for agent, server, k, *lists in rows if k == first and lists[6]
    }  # fmt: skip
    found.update(_other_choices(cur, width, a0, {k: v for k, v in chosen.items() if v != first}))
    out = []
    for (agent, server), chosen_kind in chosen.items():
        where, counts, *bands, loss = found.get((agent, server), ([], [], *[[]] * 5, []))
        line: dict[str, Any] = {"agent": agent, "server": server, "kind": chosen_kind,
                                "bucket_s": width,
                                "count": _dense(where, counts, size, 0)}  # fmt: skip
        for key, column in zip(BANDS, bands, strict=True):
            line[key] = _dense(where, column, size, None)
        line["loss_ratio"] = _dense(where, loss, size, None)
        out.append(line)
    return out


def _columns(rows: list[tuple[Any, ...]], width: int, size: int) -> dict[str, list[dict[str, Any]]]:
    """Mean loss ratio and throughput per agent × server × kind, as columns on the axis."""
    out: dict[str, list[dict[str, Any]]] = {"loss": [], "throughput": []}
    for agent, server, kind, *lists in rows:  # _cells' rows, sorted
        for name, (where, means, counts) in (("loss", lists[0:3]), ("throughput", lists[3:6])):
            if where:
                out[name].append({"agent": agent, "server": server, "kind": kind,
                                  "bucket_s": width, "values": _dense(where, means, size, None),
                                  "counts": _dense(where, counts, size, 0)})  # fmt: skip
    return out


def charts(cat: Catalog, state: ViewState, now: datetime | None = None) -> dict[str, Any]:
    """Every chart of the view: ``{"window", "bucket_s", "axis", "latency", "loss",
    "throughput"}``, computed each call (:func:`charts_json` is the cached form).

    The window is the view's time range; without one, the first and last record's start."""
    return _compute(cat, state.filters(now or datetime.now(UTC)), state)


def charts_json(cat: Catalog, state: ViewState, now: datetime | None = None) -> str:
    """:func:`charts` as compact JSON, cached per view until the catalog changes. The cache
    keeps the text: one object per view, not the hundred thousand numbers a week's fleet
    charts hold, which every full garbage collection of the process would walk."""
    filters = state.filters(now or datetime.now(UTC))

    def encoded() -> str:
        return json.dumps(_compute(cat, filters, state), separators=(",", ":"),
                          ensure_ascii=False)  # fmt: skip

    return cat.cached(("charts", filters, state.kinds), encoded)


def _compute(cat: Catalog, filters: Filters, state: ViewState) -> dict[str, Any]:
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
        a0, size = int(axis[0].timestamp()), len(axis)
        cells = _cells(cur, width, a0, _prefs(kind)[0])
        return {
            "window": {"first": iso(first), "last": iso(last)},
            "bucket_s": width,
            "axis": [iso(edge) for edge in axis],
            "latency": _latency(cur, width, a0, size, cells, kind),
            **_columns(cells, width, size),
        }
