"""The History charts: SmokePing-style latency per agent × server, loss and throughput over
time, all on one set of bucket edges chosen from the view's time range.

Latency has the figures of the report's :func:`waddleperf.report.summarize.latency_series`
(median, p10–p90 and p25–p75 bands, loss per bucket; a test holds them equal). Loss and
throughput are means per bucket of the typed columns (:mod:`waddleperf.report.figures`).
Every figure is a column on the shared ``axis`` (``p50[i]``, ``values[i]`` and ``counts[i]``
belong to ``axis[i]``: what uPlot draws). Buckets: :mod:`waddleperf.report.buckets` (at most
120 per chart, round widths, edges on multiples of the width).

One scan computes it all: loss, throughput, which kinds each agent × server has and the
quantiles of the first-choice kind (icmp, or the view's kind); only pairs without that kind
cost a second query. Each series comes back as one ordered list of structs per chart, and
DuckDB writes the columns' JSON itself: a few hundred texts reach Python, used as they are
when they fill the axis (the common case), instead of a hundred thousand numbers made into
Python objects and encoded again.
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


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _object(head: dict[str, Any], columns: dict[str, str]) -> str:
    """A JSON object: ``head``'s items, then ``columns``' ready JSON texts."""
    return _dumps(head)[:-1] + "".join(f',"{k}":{v}' for k, v in columns.items()) + "}"


def _packed(name: str, fields: dict[str, str], where: str) -> str:
    """SQL aggregate ``name``: the group's rows matching ``where`` as one list of structs
    (``i`` and ``fields``) by position: one ordered aggregate instead of one per field."""
    inner = ", ".join(f"'{k}': {v}" for k, v in {"i": "i", **fields}.items())
    return f"list({{{inner}}} ORDER BY i) FILTER (WHERE {where}) AS {name}"


def _unpacked(name: str, fields: dict[str, str]) -> str:
    """SQL: how many positions ``name`` holds, then its positions and each field as JSON."""
    out = [f"coalesce(len({name}), 0)"]
    out += [f"to_json(list_transform({name}, lambda x: x.{k}))" for k in ("i", *fields)]
    return ", ".join(out)


_LOSS = {"v": f"round(loss, {LOSS_DECIMALS})", "c": "n_loss"}
_TPUT = {"v": "round(tput)", "c": "n_tput"}
#: A latency cell's lists: counts, p10 … p90 (of its quantiles ``q``), loss ratio.
_LATENCY = {"n": "n", **{b: f"q[{n}]" for n, b in enumerate(BANDS, 1)},
            "l": f"round(loss, {LOSS_DECIMALS})"}  # fmt: skip


def _cells(cur: duckdb.DuckDBPyConnection, width: int, a0: int,
           first: str) -> list[tuple[Any, ...]]:  # fmt: skip
    """One scan, one row per agent × server × kind present: ``agent, server, kind``, then
    :func:`_unpacked` loss (means, counts), throughput (means, counts) and, for the latency
    chart's first-choice kind ``first``, :data:`_LATENCY`. DuckDB writes the JSON: a few
    hundred texts reach Python, not a hundred thousand numbers."""
    return cur.execute(f"""SELECT agent, server, kind, {_unpacked("l", _LOSS)},
            {_unpacked("t", _TPUT)}, {_unpacked("q", _LATENCY)}
        FROM (SELECT agent, server, kind, {_packed("l", _LOSS, "n_loss > 0")},
                {_packed("t", _TPUT, "n_tput > 0")}, {_packed("q", _LATENCY, "kind = $first")}
            FROM (SELECT agent, server, kind,
                    {index_sql("started_at", width, a0)} AS i, count(*) AS n,
                    {summarize.mean("loss_ratio")} AS loss, count(loss_ratio) AS n_loss,
                    {summarize.mean("throughput_bps")} AS tput, count(throughput_bps) AS n_tput,
                    {_quantiles(" FILTER (WHERE kind = $first)")} AS q
                  FROM results GROUP BY ALL)
            GROUP BY ALL)
        ORDER BY ALL""", {"first": first}).fetchall()  # fmt: skip


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


def _dense(where: list[int], values: list[Any], size: int, fill: Any) -> list[Any]:
    """``values`` at axis positions ``where`` as a column of ``size`` (``fill`` elsewhere)."""
    out = [fill] * size
    for i, value in zip(where, values, strict=True):
        if 0 <= i < size:
            out[i] = value
    return out


def _columns_of(lists: tuple[Any, ...], fills: list[Any], size: int) -> list[str]:
    """:func:`_unpacked` output as JSON columns on the axis: DuckDB's texts as they are when
    they fill every position (the common case), else spread out with ``fills``."""
    count, where, *texts = lists
    if count == size:
        return list(texts)
    at = json.loads(where) if where else []
    return [_dumps(_dense(at, json.loads(t) if t else [], size, fill))
            for t, fill in zip(texts, fills, strict=True)]  # fmt: skip


#: A latency series' columns (:data:`_LATENCY`'s) and what their empty buckets hold.
_LATENCY_KEYS, _LATENCY_FILLS = ("count", *BANDS, "loss_ratio"), [0, *[None] * 6]
_WIDTH = 2 + len(_LATENCY)  # count, positions, columns


def _other_choices(
    cur: duckdb.DuckDBPyConnection, width: int, a0: int, wanted: dict[tuple[str, str], str]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Latency lists of agent × server pairs whose chosen kind is not the first choice (a
    second query; none when every pair has the first choice, as a default fleet has)."""
    if not wanted:
        return {}
    kinds = sorted(set(wanted.values()))
    rows = cur.execute(f"""SELECT agent, server, kind, {_unpacked("q", _LATENCY)}
        FROM (SELECT agent, server, kind, {_packed("q", _LATENCY, "true")}
            FROM (SELECT agent, server, kind, {index_sql("started_at", width, a0)} AS i,
                    count(*) AS n, {_quantiles()} AS q, {summarize.mean("loss_ratio")} AS loss
                  FROM results WHERE kind IN ({", ".join("?" for _ in kinds)}) GROUP BY ALL)
            GROUP BY ALL)""", kinds).fetchall()  # fmt: skip
    return {(agent, server): tuple(lists) for agent, server, kind, *lists in rows
            if wanted.get((agent, server)) == kind}  # fmt: skip


def _latency(cur: duckdb.DuckDBPyConnection, width: int, a0: int, size: int,
             rows: list[tuple[Any, ...]], kind: str | None) -> list[str]:  # fmt: skip
    """The SmokePing series (JSON objects), one per agent × server, with the figures of
    :func:`waddleperf.report.summarize.latency_series` as columns on the shared axis:
    ``count``, ``p10`` … ``p90``, ``loss_ratio`` (``[i]`` belongs to ``axis[i]``)."""
    chosen = _chosen(rows, kind)
    first = _prefs(kind)[0]
    found = {(agent, server): tuple(lists[-_WIDTH:]) for agent, server, k, *lists in rows
             if k == first and lists[-_WIDTH]}  # fmt: skip
    found.update(_other_choices(cur, width, a0, {k: v for k, v in chosen.items() if v != first}))
    out = []
    for (agent, server), chosen_kind in chosen.items():
        lists = found.get((agent, server), (0, None, *[None] * len(_LATENCY)))
        head = {"agent": agent, "server": server, "kind": chosen_kind, "bucket_s": width}
        columns = _columns_of(lists, _LATENCY_FILLS, size)
        out.append(_object(head, dict(zip(_LATENCY_KEYS, columns, strict=True))))
    return out


def _means(rows: list[tuple[Any, ...]], width: int, size: int) -> dict[str, list[str]]:
    """Mean loss ratio and throughput per agent × server × kind (JSON objects)."""
    out: dict[str, list[str]] = {"loss": [], "throughput": []}
    for agent, server, kind, *lists in rows:  # _cells' rows, sorted
        for name, mine in (("loss", lists[0:4]), ("throughput", lists[4:8])):
            if mine[0]:
                values, counts = _columns_of(tuple(mine), [None, 0], size)
                head = {"agent": agent, "server": server, "kind": kind, "bucket_s": width}
                out[name].append(_object(head, {"values": values, "counts": counts}))
    return out


def charts(cat: Catalog, state: ViewState, now: datetime | None = None) -> dict[str, Any]:
    """Every chart of the view: ``{"window", "bucket_s", "axis", "latency", "loss",
    "throughput"}``, computed each call (:func:`charts_json` is the cached form).

    The window is the view's time range; without one, the first and last record's start."""
    found: dict[str, Any] = json.loads(_encode(cat, state.filters(now or datetime.now(UTC)), state))
    return found


def charts_json(cat: Catalog, state: ViewState, now: datetime | None = None) -> str:
    """:func:`charts` as compact JSON, cached per view until the catalog changes. The cache
    keeps the text: one object per view, not the hundred thousand numbers a week's fleet
    charts hold, which every full garbage collection of the process would walk."""
    filters = state.filters(now or datetime.now(UTC))
    return cat.cached(("charts", filters, state.kinds), lambda: _encode(cat, filters, state))


def _encode(cat: Catalog, filters: Filters, state: ViewState) -> str:
    with cat.scoped(filters) as cur:
        first, last = filters.since, filters.until
        if first is None or last is None:
            data_first, data_last = summarize.window(cur)
            first, last = first or data_first, last or data_last
        if first is None or last is None:
            return _dumps({"window": None, "bucket_s": None, "axis": [], "latency": [],
                           "loss": [], "throughput": []})  # fmt: skip
        width = bucket_width(first, last)
        axis = edges(first, last, width)
        kind = state.kinds[0] if len(state.kinds) == 1 else None
        a0, size = int(axis[0].timestamp()), len(axis)
        cells = _cells(cur, width, a0, _prefs(kind)[0])
        latency = _latency(cur, width, a0, size, cells, kind)
    head = {"window": {"first": iso(first), "last": iso(last)}, "bucket_s": width,
            "axis": [iso(edge) for edge in axis]}  # fmt: skip
    lists = {"latency": latency, **_means(cells, width, size)}
    return _object(head, {k: f"[{','.join(v)}]" for k, v in lists.items()})
