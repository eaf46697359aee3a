"""Bulk-loading a batch of bundles' NDJSON members into DuckDB, then into the typed tables.

Each line is tagged with its bundle's id by a byte substitution (its first ``{`` →
``{"_b":ID,``: a JSON string cannot hold a raw newline, so every line is one record), then the
whole batch is parsed at once by a C++ JSON reader — no per-record Python:

* ``ndjson``: the batch is written to a temporary file and read with DuckDB's ``read_json``
  straight into typed columns (the default; the faster, see docs/performance.md);
* ``arrow``: the batch is parsed by ``pyarrow.json`` into an Arrow table that DuckDB scans,
  objects cast to DuckDB's types afterwards.

From the staged rows, ``INSERT … SELECT`` fills ``results`` (every record, with the typed
figure columns of :mod:`waddleperf.report.figures`), ``events``, ``load`` and ``profiling``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from waddleperf.report.catalog import SCHEMA
from waddleperf.report.figures import derived_columns

if TYPE_CHECKING:
    import duckdb

    from waddleperf.report.sources import Candidate
    from waddleperf.report.unpack import Unpacked

Staging = Literal["ndjson", "arrow"]
STAGINGS: tuple[Staging, ...] = ("ndjson", "arrow")
KNOWN_SCHEMA_VERSIONS = ("1.0",)
STATUSES = ("ok", "degraded", "failed")
EVENT_KINDS = ("autoperf.event", "autoperf.escalation")
#: Frameworks recognised in a load run's target name or step label.
FRAMEWORKS = ("django", "flask")

RESULT_COLUMNS = {
    "_b": "BIGINT", "schema_version": "VARCHAR", "kind": "VARCHAR", "target": "VARCHAR",
    "started_at": "TIMESTAMPTZ", "finished_at": "TIMESTAMPTZ", "agent": "VARCHAR",
    "tier": "INTEGER", "run_id": "VARCHAR", "params": "JSON",
    "metrics": "MAP(VARCHAR, DOUBLE)", "info": "JSON", "status": "VARCHAR", "error": "VARCHAR",
}  # fmt: skip
PROFILING_COLUMNS = {
    "_b": "BIGINT", "type": "VARCHAR", "metric": "VARCHAR",
    "data": "STRUCT(time TIMESTAMPTZ, value DOUBLE, tags MAP(VARCHAR, VARCHAR))",
}  # fmt: skip


BUNDLE_COLUMNS = {
    "bundle_id": "BIGINT", "location": "VARCHAR", "source": "VARCHAR", "size_bytes": "BIGINT",
    "sha256": "VARCHAR", "run_id": "VARCHAR", "agent": "VARCHAR", "started_at": "TIMESTAMPTZ",
    "finished_at": "TIMESTAMPTZ", "tiers": "INTEGER[]", "max_tier": "INTEGER",
    "status": "VARCHAR", "bundle_format": "INTEGER", "software_version": "VARCHAR",
    "country": "VARCHAR", "asn": "BIGINT", "org": "VARCHAR", "region": "VARCHAR",
    "city": "VARCHAR", "latitude": "DOUBLE", "longitude": "DOUBLE", "geo_scope": "VARCHAR",
    "geo": "JSON", "results_count": "INTEGER", "profiling_count": "INTEGER",
    "rejected_count": "INTEGER", "ingested_at": "TIMESTAMPTZ",
}  # fmt: skip


def _geo_number(value: Any, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def bundle_row(bundle_id: int, candidate: Candidate, unpacked: Unpacked, now: datetime) -> bytes:
    """The ``store.bundles`` row of a checked bundle, as one NDJSON line."""
    m = unpacked.manifest
    geo = m.geo
    text = {k: (str(geo[k]) if geo.get(k) is not None else None)
            for k in ("country", "organisation", "region", "city", "scope")}  # fmt: skip
    row = {
        "bundle_id": bundle_id, "location": candidate.location,
        "source": candidate.source, "size_bytes": unpacked.size,
        "sha256": unpacked.sha256, "run_id": m.run_id, "agent": m.agent,
        "started_at": m.started_at.isoformat(), "finished_at": m.finished_at.isoformat(),
        "tiers": list(m.tiers), "max_tier": max(m.tiers) if m.tiers else None,
        "status": m.status, "bundle_format": m.bundle_format,
        "software_version": m.software_version, "country": text["country"],
        "asn": _geo_number(geo.get("asn"), int), "org": text["organisation"],
        "region": text["region"], "city": text["city"],
        "latitude": _geo_number(geo.get("latitude"), float),
        "longitude": _geo_number(geo.get("longitude"), float), "geo_scope": text["scope"],
        "geo": geo, "results_count": m.count("results.ndjson"),
        "profiling_count": m.count("profiling.ndjson"), "rejected_count": len(m.rejected),
        "ingested_at": now.isoformat(),
    }  # fmt: skip
    return (json.dumps(row, separators=(",", ":")) + "\n").encode()


def tag_lines(bundle_id: int, data: bytes) -> bytes:
    """NDJSON ``data`` with ``"_b": bundle_id`` first in every line; every line must start
    with ``{`` and end with a newline (as :func:`waddleperf.report.unpack.unpack` checks),
    else ``ValueError``."""
    if not data:
        return b""
    lines = data[:-1].split(b"\n")
    if not data.endswith(b"\n") or not all(line[:1] == b"{" for line in lines):
        raise ValueError("tag_lines: every line must be a JSON object ending with a newline")
    tag = b'{"_b":%d,' % bundle_id
    return tag + (b"\n" + tag).join([line[1:] for line in lines]) + b"\n"


def _columns_sql(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def _stage_ndjson(con: duckdb.DuckDBPyConnection, table: str, data: Sequence[bytes],
                  columns: dict[str, str]) -> None:  # fmt: skip
    fd, name = tempfile.mkstemp(prefix=".waddleperf-stage-", suffix=".ndjson")
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in data:
                fh.write(part)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_json(?, "
            f"format = 'newline_delimited', columns = {_columns_sql(columns)})",
            [name],
        )
    finally:
        os.unlink(name)


def _arrow_select(columns: dict[str, str], present: set[str]) -> str:
    parts = []
    for name, kind in columns.items():
        if name not in present:
            parts.append(f"CAST(NULL AS {kind}) AS {name}")
        elif kind == "JSON" or kind.startswith(("MAP", "STRUCT")):
            # pyarrow infers objects as structs of the batch's keys: go through JSON text
            parts.append(f"CAST(to_json({name}) AS {kind}) AS {name}")
        else:
            parts.append(f"CAST({name} AS {kind}) AS {name}")
    return ", ".join(parts)


def _stage_arrow(con: duckdb.DuckDBPyConnection, table: str, data: Sequence[bytes],
                 columns: dict[str, str]) -> None:  # fmt: skip
    import pyarrow.json as pj

    parsed = pj.read_json(
        io.BytesIO(b"".join(data)), read_options=pj.ReadOptions(block_size=1 << 24)
    )
    keep = [c for c in parsed.column_names if c in columns]
    arrow_tbl = parsed.select(keep)
    con.register("_arrow_stage", arrow_tbl)
    try:
        select = _arrow_select(columns, set(keep))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} FROM _arrow_stage")
    finally:
        con.unregister("_arrow_stage")


def stage(con: duckdb.DuckDBPyConnection, how: Staging, results: Sequence[bytes],
          profiling: Sequence[bytes]) -> None:  # fmt: skip
    """Load one batch's tagged NDJSON into temp tables ``stage_results``/``stage_profiling``."""
    load = _stage_arrow if how == "arrow" else _stage_ndjson
    for table, data, columns in (("stage_results", results, RESULT_COLUMNS),
                                 ("stage_profiling", profiling, PROFILING_COLUMNS)):  # fmt: skip
        if any(data):
            load(con, table, [part for part in data if part], columns)
        else:
            cols = ", ".join(f"{k} {v}" for k, v in columns.items())
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({cols})")


def insert_bundles(con: duckdb.DuckDBPyConnection, how: Staging, lines: bytes) -> None:
    """Add the bundles of NDJSON ``lines`` (one ``store.bundles`` row each)."""
    load = _stage_arrow if how == "arrow" else _stage_ndjson
    load(con, "stage_bundles", [lines], BUNDLE_COLUMNS)
    con.execute(f"INSERT INTO {SCHEMA}.bundles BY NAME SELECT *, CAST(started_at AS DATE) AS date "
                "FROM stage_bundles")  # fmt: skip
    con.execute("DROP TABLE stage_bundles")


def invalid_bundles(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Bundles of the staged batch with a record the tables cannot take, and why."""
    versions = ", ".join(f"'{v}'" for v in KNOWN_SCHEMA_VERSIONS)
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    rows = con.execute(f"""
        SELECT _b, min(CASE
            WHEN schema_version IS NULL OR schema_version NOT IN ({versions})
                THEN 'results.ndjson: unknown schema_version ' || coalesce(schema_version, 'null')
            WHEN kind IS NULL OR target IS NULL OR agent IS NULL
                THEN 'results.ndjson: a record has no kind, target or agent'
            WHEN started_at IS NULL OR finished_at IS NULL
                THEN 'results.ndjson: a record has no started_at or finished_at'
            ELSE 'results.ndjson: a record has status ' || coalesce(status, 'null') END)
        FROM stage_results
        WHERE schema_version IS NULL OR schema_version NOT IN ({versions}) OR kind IS NULL
            OR target IS NULL OR agent IS NULL OR started_at IS NULL OR finished_at IS NULL
            OR status IS NULL OR status NOT IN ({statuses})
        GROUP BY _b
        UNION ALL
        SELECT _b, 'profiling.ndjson: a Point has no time'
        FROM stage_profiling WHERE type = 'Point' AND data.time IS NULL GROUP BY _b
    """).fetchall()  # fmt: skip
    found: dict[int, str] = {}
    for bundle_id, reason in rows:
        found.setdefault(int(bundle_id), str(reason))
    return found


def drop_staged(con: duckdb.DuckDBPyConnection, bundle_ids: Iterable[int]) -> None:
    """Remove these bundles' rows from the staged batch."""
    ids = sorted(bundle_ids)
    if ids:
        for table in ("stage_results", "stage_profiling"):
            con.execute(f"DELETE FROM {table} WHERE list_contains(?, _b)", [ids])


def _in(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def insert_staged(con: duckdb.DuckDBPyConnection) -> int:
    """Move the staged batch into the tables; return the result rows added."""
    figures = ", ".join(f"{expr} AS {name}" for name, expr in derived_columns().items())
    frameworks = "|".join(FRAMEWORKS)
    s = SCHEMA
    con.execute(f"""
        INSERT INTO {s}.results BY NAME SELECT _b AS bundle_id, run_id, agent, kind, target,
            coalesce(info->>'server', target) AS server, info->>'step' AS step, tier,
            started_at, finished_at, CAST(started_at AS DATE) AS date, status, error,
            {figures}, metrics, params, info
        FROM stage_results""")
    con.execute(f"""
        INSERT INTO {s}.events BY NAME SELECT _b AS bundle_id, run_id, agent,
            coalesce(info->>'server', target) AS server, started_at AS t,
            CAST(started_at AS DATE) AS date,
            coalesce(info->>'event', params->>'event', 'escalation') AS event,
            TRY_CAST(coalesce(info->>'from_tier', params->>'from_tier') AS INTEGER) AS from_tier,
            TRY_CAST(coalesce(info->>'to_tier', params->>'to_tier') AS INTEGER) AS to_tier,
            coalesce(info->>'reason', params->>'reason', '') AS reason,
            info->>'metric' AS metric, TRY_CAST(info->>'value' AS DOUBLE) AS value,
            TRY_CAST(info->>'threshold' AS DOUBLE) AS threshold
        FROM stage_results WHERE kind IN ({_in(EVENT_KINDS)})""")
    con.execute(f"""
        INSERT INTO {s}.load BY NAME SELECT _b AS bundle_id, run_id, agent,
            coalesce(info->>'server', target) AS server, target,
            nullif(regexp_extract(lower(concat_ws(' ', params->>'target', info->>'step',
                info->>'target_name')), '({frameworks})', 1), '') AS framework,
            started_at AS t, CAST(started_at AS DATE) AS date, status,
            CAST(metrics['requests_count'] AS BIGINT) AS requests,
            CAST(metrics['failures_count'] AS BIGINT) AS failures,
            metrics['error_rate_pct'] AS error_rate_pct, metrics['throughput_rps'] AS rps,
            metrics['latency_avg_ms'] AS avg_ms, metrics['latency_p50_ms'] AS p50_ms,
            metrics['latency_p90_ms'] AS p90_ms, metrics['latency_p95_ms'] AS p95_ms,
            metrics['latency_p99_ms'] AS p99_ms,
            metrics['target_cpu_avg_pct'] AS target_cpu_avg_pct,
            metrics['target_rss_max_mb'] AS target_rss_max_mb, metrics
        FROM stage_results WHERE kind LIKE 'load.%'""")
    con.execute(f"""
        INSERT INTO {s}.profiling BY NAME SELECT p._b AS bundle_id, b.run_id, b.agent,
            p.data.time AS t, CAST(p.data.time AS DATE) AS date, p.metric, p.data.value AS value,
            p.data.tags['target'] AS source, p.data.tags['label'] AS label,
            p.data.tags['method'] AS method, p.data.tags AS tags
        FROM stage_profiling p JOIN {s}.bundles b ON b.bundle_id = p._b
        WHERE p.type = 'Point'""")
    added = con.execute("SELECT count(*) FROM stage_results").fetchall()[0][0]
    con.execute("DROP TABLE IF EXISTS stage_results")
    con.execute("DROP TABLE IF EXISTS stage_profiling")
    return int(added)
