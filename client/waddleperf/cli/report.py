"""``waddleperf report``: bundles → catalog → summary, SQL, Parquet or a regression verdict.

Thin: flags are parsed and checked here, the work is in :mod:`waddleperf.report` (imported
inside the command, so ``waddleperf --help`` does not load DuckDB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from waddleperf import extras

EXIT_REGRESSED = 1
EXIT_USAGE = 2
DEFAULT_OUT = Path("waddleperf-report")

Multi = list[str] | None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"waddleperf report: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def report(
    sources: Annotated[list[str], typer.Argument(
        help="Results directories, bundle files or s3://BUCKET/PREFIX.", show_default=False,
        metavar="SOURCE")],
    out: Annotated[Path | None, typer.Option(
        "--out", help=f"Directory for report.html, summary.md, summary.json and the PNG "
        f"charts (default {DEFAULT_OUT}).")] = None,
    catalog: Annotated[Path | None, typer.Option(
        help="The incremental catalog (DuckDB file; default in the user's cache directory: "
        "$XDG_CACHE_HOME/waddleperf/catalog.duckdb).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        help="S3 endpoint (MinIO, moto, any S3 service); credentials the boto3 way.")] = None,
    since: Annotated[str | None, typer.Option(help="From this UTC time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this UTC time (ISO 8601).")] = None,
    agent: Annotated[Multi, typer.Option(help="Only this agent (repeatable).")] = None,
    server: Annotated[Multi, typer.Option(help="Only this server (repeatable).")] = None,
    kind: Annotated[Multi, typer.Option(
        help="Only this probe kind, e.g. icmp or probe.icmp (repeatable).")] = None,
    country: Annotated[Multi, typer.Option(help="Only agents in this country code.")] = None,
    asn: Annotated[list[int] | None, typer.Option(help="Only agents in this AS number.")] = None,
    sql: Annotated[str | None, typer.Option(
        help="Run this query over the tables (bundles, results, events, load, profiling) "
        "and print the rows instead of writing a report.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="--sql output: table, csv or json.")
    ] = "table",
    export_parquet: Annotated[Path | None, typer.Option(
        help="Write the tables as Hive-partitioned Parquet under this directory "
        "(DIR/TABLE/date=…/agent=…/*.parquet); a report too only with --out.")] = None,
    baseline: Annotated[Multi, typer.Option(
        help="Compare with these sources' bundles (repeatable); exit 1 on a regression.")] = None,
    baseline_since: Annotated[str | None, typer.Option(
        help="Baseline from the same sources, from this UTC time.")] = None,
    baseline_until: Annotated[str | None, typer.Option(
        help="Baseline from the same sources, before this UTC time.")] = None,
    avg_ratio: Annotated[float | None, typer.Option(
        help="Mean latency regressed above this × baseline (default 1.10).")] = None,
    p95_ratio: Annotated[float | None, typer.Option(
        help="p95 latency regressed above this × baseline (default 1.20).")] = None,
    error_rate_factor: Annotated[float | None, typer.Option(
        help="Error rate regressed above this × baseline (default 2.0).")] = None,
    series_kind: Annotated[str | None, typer.Option(
        help="Probe kind of the latency-over-time charts (default: icmp, else udp, tcp…).")] = None,
    staging: Annotated[str, typer.Option(
        help="How bundles are bulk-loaded: ndjson (DuckDB's reader) or arrow.")] = "ndjson",
) -> None:  # fmt: skip
    """Analyse result bundles offline: HTML/Markdown/JSON report, SQL, Parquet, regressions."""
    from waddleperf.report.command import Request, run

    extras.require("report", "report")
    try:
        request = Request.parse(
            sources=sources, out=out, catalog=catalog, endpoint_url=endpoint_url, since=since,
            until=until, agents=agent or [], servers=server or [], kinds=kind or [],
            countries=country or [], asns=asn or [], sql=sql, fmt=fmt,
            export_parquet=export_parquet, baseline=baseline or [],
            baseline_since=baseline_since, baseline_until=baseline_until,
            thresholds=(avg_ratio, p95_ratio, error_rate_factor), series_kind=series_kind,
            staging=staging, default_out=DEFAULT_OUT,
        )  # fmt: skip
    except ValueError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(run(request))
