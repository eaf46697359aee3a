"""``--export-parquet DIR``: the report's views as Hive-partitioned Parquet, typed.

``DIR/TABLE/date=YYYY-MM-DD/agent=NAME/*.parquet`` for every table, written by DuckDB's
``COPY … (FORMAT parquet, PARTITION_BY (date, agent))``: timestamps stay UTC timestamps
(``TIMESTAMP`` adjusted to UTC in Parquet's terms), maps stay maps, JSON columns are strings.
``date`` and ``agent`` live in the paths, not in the files, as Hive readers expect. Each
table's directory is written beside the old one and swapped in, so a reader never sees half
an export.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from waddleperf.report.catalog import TABLES

if TYPE_CHECKING:
    import duckdb


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write every view under ``out_dir``; return the rows written per table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in TABLES:
        final = out_dir / table
        temp = out_dir / f".{table}.partial"
        old = out_dir / f".{table}.old"
        for leftover in (temp, old):
            shutil.rmtree(leftover, ignore_errors=True)
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        counts[table] = int(rows)
        temp.mkdir()
        if rows:
            con.execute(
                f"COPY (SELECT * FROM {table}) TO '{_quoted(temp)}' (FORMAT parquet, "
                "PARTITION_BY (date, agent), COMPRESSION zstd, OVERWRITE_OR_IGNORE true)"
            )
        if final.exists():
            final.rename(old)
        temp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    return counts


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
