"""The incremental catalog: one DuckDB file holding every bundle ingested so far.

Tables live in the schema ``store`` (``store.bundles``, ``store.results``, ``store.events``,
``store.load``, ``store.profiling``, ``store.skipped``); a report puts views of the same names
without the schema in front of them, limited to its sources and filters
(:mod:`waddleperf.report.scope`). ``store.bundles`` and ``store.skipped`` remember each
bundle's location, size and SHA-256, so a re-run reads only what is new or changed.
Times are ``TIMESTAMPTZ`` (UTC); every table has the UTC ``date`` of its row for partitioning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

#: DuckDB's memory bound: beyond it, it spills to temporary files (peak RSS stays under 2 GB).
MEMORY_LIMIT = "1GB"
#: Bumped when the tables change shape; an older catalog is rebuilt from the bundles.
CATALOG_VERSION = 1
SCHEMA = "store"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.bundle_ids START 1;
CREATE TABLE IF NOT EXISTS {SCHEMA}.bundles (
    bundle_id BIGINT PRIMARY KEY, location VARCHAR NOT NULL, source VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    agent VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL,
    date DATE NOT NULL, tiers INTEGER[], max_tier INTEGER, status VARCHAR,
    bundle_format INTEGER, software_version VARCHAR, country VARCHAR, asn BIGINT, org VARCHAR,
    region VARCHAR, city VARCHAR, latitude DOUBLE, longitude DOUBLE, geo_scope VARCHAR,
    geo JSON, results_count INTEGER, profiling_count INTEGER, rejected_count INTEGER,
    ingested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.skipped (
    location VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, size_bytes BIGINT,
    reason VARCHAR NOT NULL, duplicate_of BIGINT, seen_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.results (
    bundle_id BIGINT NOT NULL, run_id VARCHAR, agent VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    target VARCHAR NOT NULL, server VARCHAR NOT NULL, step VARCHAR, tier INTEGER,
    started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL, date DATE NOT NULL,
    status VARCHAR NOT NULL, error VARCHAR, latency_ms DOUBLE, latency_p95_ms DOUBLE,
    loss_ratio DOUBLE, jitter_ms DOUBLE, throughput_bps DOUBLE,
    metrics MAP(VARCHAR, DOUBLE), params JSON, info JSON
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.events (
    bundle_id BIGINT NOT NULL, run_id VARCHAR, agent VARCHAR NOT NULL, server VARCHAR NOT NULL,
    t TIMESTAMPTZ NOT NULL, date DATE NOT NULL, event VARCHAR, from_tier INTEGER,
    to_tier INTEGER, reason VARCHAR, metric VARCHAR, value DOUBLE, threshold DOUBLE
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.load (
    bundle_id BIGINT NOT NULL, run_id VARCHAR, agent VARCHAR NOT NULL, server VARCHAR NOT NULL,
    target VARCHAR NOT NULL, framework VARCHAR, t TIMESTAMPTZ NOT NULL, date DATE NOT NULL,
    status VARCHAR, requests BIGINT, failures BIGINT, error_rate_pct DOUBLE, rps DOUBLE,
    avg_ms DOUBLE, p50_ms DOUBLE, p90_ms DOUBLE, p95_ms DOUBLE, p99_ms DOUBLE,
    target_cpu_avg_pct DOUBLE, target_rss_max_mb DOUBLE, metrics MAP(VARCHAR, DOUBLE)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.profiling (
    bundle_id BIGINT NOT NULL, run_id VARCHAR, agent VARCHAR NOT NULL, t TIMESTAMPTZ NOT NULL,
    date DATE NOT NULL, metric VARCHAR NOT NULL, value DOUBLE, source VARCHAR, label VARCHAR,
    method VARCHAR, tags MAP(VARCHAR, VARCHAR)
);
"""
#: The analysis tables, in the order the report and the export name them.
TABLES = ("bundles", "results", "events", "load", "profiling")


class CatalogError(RuntimeError):
    """The catalog file cannot be opened (locked by another run, not a DuckDB file…)."""


def default_catalog() -> Path:
    """``$XDG_CACHE_HOME/waddleperf/catalog.duckdb`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "waddleperf" / "catalog.duckdb"


def connect(path: Path | None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) the catalog at ``path`` (None: in memory) with its tables in place."""
    import duckdb

    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path) if path is not None else ":memory:")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise CatalogError(f"catalog {path}: cannot open: {first}") from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        version = _version(con)
        if version is not None and version != CATALOG_VERSION:
            _drop(con)
        con.execute(DDL)
        con.execute(
            f"INSERT OR REPLACE INTO {SCHEMA}.meta VALUES ('catalog_version', ?)",
            [str(CATALOG_VERSION)],
        )
    except duckdb.Error as exc:
        con.close()
        first = str(exc).splitlines()[0]
        raise CatalogError(f"catalog {path}: not a WaddlePerf catalog: {first}") from None
    return con


def _version(con: duckdb.DuckDBPyConnection) -> int | None:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'meta'",
        [SCHEMA],
    ).fetchall()
    if not found[0][0]:
        return None
    rows = con.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'catalog_version'").fetchall()
    return int(rows[0][0]) if rows else None


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
