"""The figures of ``summary.json``, computed by SQL over a report's views.

Probe figures are over probe records (``kind`` ``probe.*``): each record contributes its
latency figure (``latency_ms``: its mean over its attempts, :mod:`waddleperf.report.figures`),
so ``rtt_ms.p95`` is the 95th percentile of the records' latencies in the group; loss, jitter
and throughput are means over the records that have them. The latency series bucket the
same values in time (SmokePing's bands: p10–p90, p25–p75, median), one series per agent ×
server for the first kind of :data:`SERIES_KINDS` it has (or the kind asked for).

Every mean is a compensated sum (:func:`mean`): a plain floating-point sum depends on the
order of its terms, and the order rows reach an aggregate depends on how they were ingested
(one cold run or several incremental ones) and on DuckDB's threads. The Kahan–Babuška
(Neumaier) sum carries the rounding error along, so its result is the exact sum correctly
rounded unless the exact sum lies within about n·ε² of a rounding boundary (n terms, ε the
double's 2⁻⁵³): the same records give the same ``summary.json``, byte for byte, at a tenth of
the cost of summing in sorted order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from waddleperf.load.compare import REPORT_ROWS, compare
from waddleperf.report import regress
from waddleperf.report.buckets import MAX_BUCKETS, bucket_sql, bucket_width, edges
from waddleperf.report.scope import iso

if TYPE_CHECKING:
    import duckdb

#: Preferred kind of each agent × server's latency chart, first present wins.
SERIES_KINDS = ("probe.icmp", "probe.udp", "probe.tcp", "probe.http", "probe.dns")
#: Most escalations, load runs and points per profile listed (the latest; totals say all).
MAX_LISTED = 2000
MiB = 1 << 20


def mean(expr: str) -> str:
    """SQL of the mean of ``expr`` that does not depend on the order of the rows."""
    return f"(fsum({expr}) / nullif(count({expr}), 0))"


_FIGURES = f"""count(*) AS n, count(*) FILTER (WHERE status = 'failed') AS failures,
    {mean("latency_ms")} AS mean, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
    {mean("loss_ratio")} AS loss, {mean("jitter_ms")} AS jitter,
    {mean("throughput_bps")} AS tput"""
_PROBES = "kind LIKE 'probe.%'"


def _t(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _figures(
    n: int,
    failures: int,
    mean: float | None,
    q: Sequence[float] | None,
    loss: float | None,
    jitter: float | None,
    tput: float | None,
) -> dict[str, Any]:
    rtt = None
    if mean is not None and q is not None and None not in q:
        rtt = {"mean": float(mean), "p50": float(q[0]), "p95": float(q[1]), "p99": float(q[2])}
    return {
        "count": int(n),
        "failures": int(failures),
        "rtt_ms": rtt,
        "loss_ratio": loss,
        "jitter_ms": jitter,
        "throughput_bps": tput,
    }


def probes(con: duckdb.DuckDBPyConnection, p: str = "") -> list[dict[str, Any]]:
    """Figures per agent × server × probe kind."""
    rows = con.execute(
        f"SELECT agent, server, kind, {_FIGURES} FROM {p}results "
        f"WHERE {_PROBES} GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [{"agent": a, "server": s, "kind": k, **_figures(*rest)} for a, s, k, *rest in rows]


def groups(con: duckdb.DuckDBPyConnection, p: str = "") -> dict[regress.Key, regress.Group]:
    """What the regression rules compare, per agent × server × kind."""
    rows = con.execute(f"""SELECT agent, server, kind, count(*),
        count(*) FILTER (WHERE status = 'failed'), {mean("latency_ms")},
        quantile_cont(latency_ms, 0.95) FROM {p}results WHERE {_PROBES} GROUP BY ALL""").fetchall()
    return {(a, s, k): regress.Group(n, f, m, p95) for a, s, k, n, f, m, p95 in rows}


def geo(con: duckdb.DuckDBPyConnection, p: str = "") -> dict[str, Any]:
    """Probe figures per country and per ASN of the bundles' geo tags."""
    countries = con.execute(
        f"SELECT country, {_FIGURES} FROM {p}results WHERE {_PROBES} "
        "GROUP BY ALL ORDER BY country NULLS LAST"
    ).fetchall()
    asns = con.execute(
        f"SELECT asn, any_value(org), {_FIGURES} FROM {p}results "
        f"WHERE {_PROBES} GROUP BY asn ORDER BY asn NULLS LAST"
    ).fetchall()
    return {
        "country": [{"country": c, **_figures(*rest)} for c, *rest in countries],
        "asn": [{"asn": a, "org": o, **_figures(*rest)} for a, o, *rest in asns],
    }


def window(con: duckdb.DuckDBPyConnection, p: str = "") -> tuple[datetime | None, datetime | None]:
    """First and last record start among the report's records."""
    first, last = con.execute(
        f"SELECT min(started_at), max(started_at) FROM {p}results"
    ).fetchall()[0]
    return first, last


def totals(con: duckdb.DuckDBPyConnection, p: str = "") -> dict[str, int]:
    """Counts of what the report covers."""
    row = con.execute(f"""SELECT
        (SELECT count(*) FROM {p}bundles),
        (SELECT count(*) FROM {p}results WHERE {_PROBES}),
        (SELECT count(DISTINCT agent) FROM {p}results),
        (SELECT count(DISTINCT server) FROM {p}results WHERE {_PROBES}),
        (SELECT count(*) FROM {p}events),
        (SELECT count(*) FROM {p}load)""").fetchall()[0]
    keys = ("bundles", "results", "agents", "servers", "events", "load_runs")
    return {k: int(v) for k, v in zip(keys, row, strict=True)}


def latency_series(
    con: duckdb.DuckDBPyConnection,
    first: datetime | None,
    last: datetime | None,
    kind: str | None = None,
    max_buckets: int = MAX_BUCKETS,
    p: str = "",
) -> list[dict[str, Any]]:
    """SmokePing-style series, one per agent × server, on one shared set of bucket edges."""
    if first is None or last is None:
        return []
    width = bucket_width(first, last, max_buckets)
    axis = edges(first, last, width)
    prefs = [kind] if kind else list(SERIES_KINDS)
    order = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(prefs))
    chosen = con.execute(f"""SELECT agent, server, arg_min(kind, CASE kind {order} END)
        FROM {p}results WHERE kind IN ({", ".join(f"'{k}'" for k in prefs)})
        GROUP BY ALL ORDER BY ALL""").fetchall()
    bucket = bucket_sql("r.started_at", width)
    rows = con.execute(f"""SELECT r.agent, r.server, {bucket} AS b, count(*),
            quantile_cont(r.latency_ms, [0.1, 0.25, 0.5, 0.75, 0.9]), {mean("r.loss_ratio")}
        FROM {p}results r JOIN (SELECT agent, server, arg_min(kind, CASE kind {order} END) AS kind
            FROM {p}results WHERE kind IN ({", ".join(f"'{k}'" for k in prefs)})
            GROUP BY ALL) c USING (agent, server, kind)
        GROUP BY ALL""").fetchall()
    cells: dict[tuple[str, str], dict[int, tuple[int, Any, Any]]] = {}
    for agent, server, bucket, n, q, loss in rows:
        cells.setdefault((agent, server), {})[int(bucket)] = (int(n), q, loss)
    series = []
    for agent, server, chosen_kind in chosen:
        mine = cells.get((agent, server), {})
        points = []
        for edge in axis:
            n, q, loss = mine.get(int(edge.timestamp()), (0, None, None))
            qs = list(q) if q is not None else [None] * 5
            points.append(
                {
                    "t": iso(edge),
                    "count": n,
                    "p10": qs[0],
                    "p25": qs[1],
                    "p50": qs[2],
                    "p75": qs[3],
                    "p90": qs[4],
                    "loss_ratio": loss,
                }
            )
        series.append(
            {
                "agent": agent,
                "server": server,
                "kind": chosen_kind,
                "bucket_s": width,
                "points": points,
            }
        )
    return series


def escalations(con: duckdb.DuckDBPyConnection, p: str = "") -> list[dict[str, Any]]:
    """Tier changes, oldest first (the latest :data:`MAX_LISTED`)."""
    rows = con.execute(f"""SELECT * FROM (SELECT agent, server, t, from_tier, to_tier, reason
        FROM {p}events WHERE from_tier IS NOT NULL AND to_tier IS NOT NULL
        ORDER BY t DESC LIMIT {MAX_LISTED}) ORDER BY t, agent, server""").fetchall()
    return [
        {"agent": a, "server": s, "t": iso(t), "from_tier": f, "to_tier": to, "reason": r or ""}
        for a, s, t, f, to, r in rows
    ]


def load_runs(con: duckdb.DuckDBPyConnection, p: str = "") -> list[dict[str, Any]]:
    """Load runs with their percentiles, oldest first (the latest :data:`MAX_LISTED`)."""
    rows = con.execute(f"""SELECT * FROM (SELECT agent, target, framework, t,
        coalesce(requests, 0), coalesce(failures, 0), coalesce(rps, 0), p50_ms, p95_ms, p99_ms
        FROM {p}load ORDER BY t DESC LIMIT {MAX_LISTED}) ORDER BY 4, 1, 2""").fetchall()
    keys = (
        "agent",
        "target",
        "framework",
        "t",
        "requests",
        "failures",
        "rps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    )
    return [{**dict(zip(keys, r, strict=True)), "t": iso(r[3]), "rps": float(r[6])} for r in rows]


def profiling(con: duckdb.DuckDBPyConnection, p: str = "") -> list[dict[str, Any]]:
    """CPU and RSS of each profiled target (points of source ``target``) per agent."""
    rows = con.execute(f"""SELECT agent, coalesce(label, source) AS target, t,
            max(value) FILTER (WHERE metric = 'cpu_pct'),
            max(value) FILTER (WHERE metric = 'rss_mb')
        FROM {p}profiling WHERE source = 'target' AND metric IN ('cpu_pct', 'rss_mb')
        GROUP BY ALL ORDER BY agent, target, t""").fetchall()
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for agent, target, t, cpu, rss in rows:
        point = {
            "t": iso(t),
            "cpu_percent": cpu,
            "rss_bytes": int(rss * MiB) if rss is not None else None,
        }
        out.setdefault((agent, target), []).append(point)
    return [
        {"agent": a, "target": t, "points": pts[-MAX_LISTED:]}
        for (a, t), pts in sorted(out.items())
    ]


def comparison(
    con: duckdb.DuckDBPyConnection, a: str = "django", b: str = "flask", p: str = ""
) -> dict[str, Any] | None:
    """Framework ``a`` against ``b`` over their load runs' mean figures (None: not both)."""
    names = [m for m, _, _ in REPORT_ROWS]
    cols = ", ".join(mean(f"metrics['{m}']") for m in names)
    rows = con.execute(
        f"SELECT framework, {cols} FROM {p}load WHERE framework IN (?, ?) GROUP BY framework",
        [a, b],
    ).fetchall()
    found = {r[0]: {m: v for m, v in zip(names, r[1:], strict=True) if v is not None} for r in rows}
    if a not in found or b not in found:
        return None
    side = compare(found[a], found[b], a_name=a, b_name=b)
    return {
        "a": a,
        "b": b,
        "rows": [{"metric": r.metric, "a": r.a, "b": r.b, "ratio": r.ratio} for r in side.rows],
    }


def data_quality(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The skipped bundles of this run's sources, and why."""
    rows = con.execute("""SELECT location, reason FROM store.skipped
        WHERE location IN (SELECT location FROM scope_skipped) ORDER BY location""").fetchall()
    return {"skipped": len(rows), "bundles": [{"source": s, "reason": r} for s, r in rows]}
