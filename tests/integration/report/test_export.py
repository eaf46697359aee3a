"""The Parquet export read back by other engines: pyarrow.dataset and Apache Spark (local mode,
on Debian's OpenJDK) see the same rows, partitions and per-agent figures as DuckDB."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.integration.report.conftest import COUNT, report
from tests.support.require import require_tool
from waddleperf.report.catalog import TABLES

PER_AGENT = ("SELECT agent, count(*) AS n, sum(latency_ms) AS lat, "
             "count(DISTINCT date) AS days FROM results GROUP BY agent ORDER BY agent")  # fmt: skip


def _duck(fleet: Path, cat: Path, sql: str) -> list[dict[str, Any]]:
    run = report(fleet, "--catalog", cat, "--sql", sql, "--format", "json")
    assert run.code == 0, run.stderr
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


@pytest.fixture(scope="module")
def exported(fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("export")
    out, cat = tmp / "parquet", tmp / "c.duckdb"
    run = report(fleet, "--catalog", cat, "--export-parquet", out)
    assert run.code == 0, run.stderr
    assert not (tmp / "waddleperf-report").exists()  # export only: no report unless --out
    return out, cat


def test_layout_is_hive_partitioned_and_typed(exported: tuple[Path, Path], fleet: Path) -> None:
    out, cat = exported
    assert sorted(p.name for p in out.iterdir()) == sorted(TABLES)
    files = sorted((out / "results").rglob("*.parquet"))
    assert files and all(f.parent.name.startswith("agent=") for f in files)
    assert all(f.parent.parent.name.startswith("date=") for f in files)
    results = ds.dataset(out / "results", format="parquet", partitioning="hive")
    schema = results.schema
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_map(schema.field("metrics").type)
    assert {"date", "agent"} <= set(schema.names)
    for table in TABLES:
        counted = _duck(fleet, cat, f"SELECT count(*) AS n FROM {table}")[0]["n"]
        assert ds.dataset(out / table, partitioning="hive").count_rows() == counted
    assert ds.dataset(out / "bundles", partitioning="hive").count_rows() == COUNT


def test_a_second_export_replaces_the_first(exported: tuple[Path, Path], fleet: Path) -> None:
    out, cat = exported
    again = out.parent / "again"
    shutil.copytree(out, again)
    run = report(fleet, "--catalog", cat, "--export-parquet", again, "--agent", "agent-00")
    assert run.code == 0
    agents = ds.dataset(again / "results", partitioning="hive").to_table(columns=["agent"])
    assert set(agents.column("agent").to_pylist()) == {"agent-00"}
    assert not list(again.glob(".*"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_spark_reads_the_export(exported: tuple[Path, Path], fleet: Path) -> None:
    require_tool("java", "openjdk-17-jre-headless")
    from pyspark.sql import SparkSession

    out, cat = exported
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[1]").appName("waddleperf-export")
        .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )  # fmt: skip
    try:
        for table in TABLES:
            frame = spark.read.parquet(str(out / table))
            counted = _duck(fleet, cat, f"SELECT count(*) AS n FROM {table}")[0]["n"]
            assert frame.count() == counted, table
            assert {"date", "agent"} <= set(frame.columns), table
        results = spark.read.parquet(str(out / "results"))
        assert dict(results.dtypes)["started_at"] == "timestamp"
        assert dict(results.dtypes)["metrics"] == "map<string,double>"
        results.createOrReplaceTempView("results")
        theirs = [r.asDict() for r in spark.sql(PER_AGENT).collect()]
        ours = _duck(fleet, cat, PER_AGENT)
        assert [r["agent"] for r in theirs] == [r["agent"] for r in ours]
        for a, b in zip(theirs, ours, strict=True):
            assert a["n"] == b["n"] and a["days"] == b["days"]
            assert a["lat"] == pytest.approx(b["lat"], rel=1e-9)
        icmp = spark.sql("SELECT avg(metrics['rtt_avg_ms']) AS m FROM results "
                         "WHERE kind = 'probe.icmp'").collect()[0]["m"]  # fmt: skip
        duck = _duck(fleet, cat, "SELECT avg(metrics['rtt_avg_ms']) AS m FROM results "
                     "WHERE kind = 'probe.icmp'")[0]["m"]  # fmt: skip
        assert icmp == pytest.approx(duck, rel=1e-9)
    finally:
        spark.stop()
