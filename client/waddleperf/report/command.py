"""What ``waddleperf report`` does, in order: ingest, views, then SQL / export / summary.

Exit codes: 0 done, 1 a regression against the baseline, 2 bad usage or a source, catalog or
query that cannot be used (one line on stderr naming it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from waddleperf.report.regress import Thresholds
from waddleperf.report.scope import Filters, parse_kind, parse_time
from waddleperf.report.staging import STAGINGS, Staging

EXIT_OK, EXIT_REGRESSED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Request:
    """A checked ``waddleperf report`` invocation."""

    sources: tuple[str, ...]
    out: Path | None
    catalog: Path | None
    endpoint_url: str | None
    filters: Filters
    sql: str | None
    fmt: str
    export_parquet: Path | None
    baseline: tuple[str, ...]
    baseline_filters: Filters | None
    thresholds: Thresholds
    series_kind: str | None
    staging: Staging

    @classmethod
    def parse(
        cls,
        *,
        sources: Sequence[str],
        out: Path | None,
        catalog: Path | None,
        endpoint_url: str | None,
        since: str | None,
        until: str | None,
        agents: Sequence[str],
        servers: Sequence[str],
        kinds: Sequence[str],
        countries: Sequence[str],
        asns: Sequence[int],
        sql: str | None,
        fmt: str,
        export_parquet: Path | None,
        baseline: Sequence[str],
        baseline_since: str | None,
        baseline_until: str | None,
        thresholds: tuple[float | None, float | None, float | None],
        series_kind: str | None,
        staging: str,
        default_out: Path,
    ) -> Request:
        """Check the flags; ValueError naming the bad one."""
        from waddleperf.report.query import FORMATS

        if not sources:
            raise ValueError("give at least one SOURCE (directory, bundle file or s3://…)")
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if staging not in STAGINGS:
            raise ValueError(f"--staging must be one of {', '.join(STAGINGS)}, not {staging!r}")
        for a in asns:
            if a < 0:
                raise ValueError(f"--asn: {a} is not an AS number")
        filters = Filters(
            since=parse_time(since, "since") if since else None,
            until=parse_time(until, "until") if until else None,
            agents=tuple(agents),
            servers=tuple(servers),
            kinds=tuple(parse_kind(k) for k in kinds),
            countries=tuple(c.upper() for c in countries),
            asns=tuple(asns),
        )
        if filters.since and filters.until and filters.since >= filters.until:
            raise ValueError("--since must be before --until")
        window = baseline_since is not None or baseline_until is not None
        if baseline and window:
            raise ValueError(
                "give --baseline SOURCE or --baseline-since/--baseline-until, not both"
            )
        base_filters = None
        if window:
            base_filters = replace(
                filters,
                since=parse_time(baseline_since, "baseline-since") if baseline_since else None,
                until=parse_time(baseline_until, "baseline-until") if baseline_until else None,
            )
        elif baseline:
            base_filters = replace(filters)
        defaults = Thresholds()
        avg, p95, err = thresholds
        try:
            limits = Thresholds(
                avg_ratio=defaults.avg_ratio if avg is None else avg,
                p95_ratio=defaults.p95_ratio if p95 is None else p95,
                error_rate_factor=defaults.error_rate_factor if err is None else err,
            )
        except ValueError as exc:
            raise ValueError(str(exc).replace("threshold ", "--").replace("_", "-")) from None
        report_out = out if out is not None else (None if sql or export_parquet else default_out)
        return cls(
            tuple(sources),
            report_out,
            catalog,
            endpoint_url,
            filters,
            sql,
            fmt,
            export_parquet,
            tuple(baseline),
            base_filters,
            limits,
            parse_kind(series_kind) if series_kind else None,
            "arrow" if staging == "arrow" else "ndjson",
        )


def _say(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")


def run(req: Request, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Carry out ``req``; return the exit code."""
    from waddleperf.report import build, catalog
    from waddleperf.report.ingest import ingest
    from waddleperf.report.query import QueryError, format_rows, run_query
    from waddleperf.report.scope import create_views
    from waddleperf.report.sources import SourceError, open_source

    stdout, stderr = out or sys.stdout, err or sys.stderr
    try:
        con = catalog.connect(req.catalog or catalog.default_catalog())
    except catalog.CatalogError as exc:
        _say(stderr, f"waddleperf report: {exc}")
        return EXIT_USAGE
    try:
        try:
            found = ingest(
                con, [open_source(s, req.endpoint_url) for s in req.sources], req.staging
            )
            if req.baseline:
                ingest(
                    con,
                    [open_source(s, req.endpoint_url) for s in req.baseline],
                    req.staging,
                    scope="baseline_scope",
                )
        except SourceError as exc:
            _say(stderr, f"waddleperf report: {exc}")
            return EXIT_USAGE
        create_views(con, req.filters)
        if req.baseline_filters is not None:
            scope = "baseline_scope" if req.baseline else "scope"
            create_views(con, req.baseline_filters, scope=scope, prefix=build.BASELINE)
        _say(
            stderr,
            f"waddleperf report: {found.listed} bundle(s) listed, {found.ingested} new "
            f"ingested, {found.known} already in the catalog, {found.skipped} newly "
            f"skipped ({found.seconds:.1f} s)",
        )
        if req.sql is not None:
            try:
                names, rows = run_query(con, req.sql)
            except QueryError as exc:
                _say(stderr, f"waddleperf report: {exc}")
                return EXIT_USAGE
            stdout.write(format_rows(names, rows, req.fmt))  # type: ignore[arg-type]
        if req.export_parquet is not None:
            from waddleperf.report.export import export_parquet

            counts = export_parquet(con, req.export_parquet)
            listed = ", ".join(f"{t} {n}" for t, n in counts.items())
            _say(stderr, f"waddleperf report: Parquet under {req.export_parquet}: {listed} rows")
        if req.out is None:
            return EXIT_OK
        summary = build.build_summary(
            con,
            req.sources,
            req.filters,
            series_kind=req.series_kind,
            thresholds=req.thresholds,
            baseline=req.baseline_filters is not None,
        )
        return _write(req.out, summary, stdout, stderr)
    finally:
        con.close()


def _write(directory: Path, summary: dict[str, object], stdout: IO[str], stderr: IO[str]) -> int:
    from waddleperf.report import build

    path = build.write_summary(summary, directory)
    written = [path]
    try:
        written += build.renderer()(summary, directory)
    except build.RendererMissing as exc:
        _say(stderr, f"waddleperf report: {exc}")
    except ValueError as exc:  # the renderer's RenderError: one line, never a traceback
        _say(stderr, f"waddleperf report: {exc}")
        return EXIT_USAGE
    quality = summary["data_quality"]
    assert isinstance(quality, dict)
    if quality["skipped"]:
        _say(
            stderr,
            f"waddleperf report: {quality['skipped']} bundle(s) skipped, listed in data_quality",
        )
    for item in written:
        _say(stdout, str(item))
    verdict = summary.get("regressions")
    if isinstance(verdict, dict):
        bad = [r for r in verdict["rows"] if r["regressed"]]
        for row in bad:
            _say(
                stdout,
                f"REGRESSED {row['agent']} → {row['server']} {row['kind']} "
                f"{row['metric']}: {row['baseline']:.4g} → {row['current']:.4g} "
                f"({row['rule']})",
            )
        if verdict["regressed"]:
            return EXIT_REGRESSED
    return EXIT_OK
