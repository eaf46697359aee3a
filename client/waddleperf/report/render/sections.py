"""From a summary dict (``summary.json``'s shape, :mod:`waddleperf.report.summary_model`) to
the report's sections: overview, probes, latency over time, geography, escalations, load,
regressions and data quality — the same for every output format.

The summary comes from bundles written in the field, so nothing in it is trusted: a missing or
mistyped part reads as empty (its block says "none"), every value is turned into text here and
escaped by the writer of each format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waddleperf.report.render import fmt
from waddleperf.report.render.charts import LOSS_CLASSES, Chart
from waddleperf.report.render.charts import build as build_charts
from waddleperf.report.render.model import NOTHING, Block, Report, Row, Section, Table

TITLE = "WaddlePerf report"
MAX_SOURCES_LISTED = 20
FIGURE_HEADERS = ("count", "failures", "mean", "p50", "p95", "p99", "loss", "jitter", "throughput")
_FIGURES_NUMERIC = (True,) * len(FIGURE_HEADERS)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _figures(row: Mapping[str, Any]) -> tuple[str, ...]:
    rtt = _map(row.get("rtt_ms"))
    return (
        fmt.count(row.get("count")),
        fmt.count(row.get("failures")),
        fmt.ms(rtt.get("mean")),
        fmt.ms(rtt.get("p50")),
        fmt.ms(rtt.get("p95")),
        fmt.ms(rtt.get("p99")),
        fmt.pct(row.get("loss_ratio")),
        fmt.ms(row.get("jitter_ms")),
        fmt.bps(row.get("throughput_bps")),
    )


def _table(headers: Sequence[str], numeric: Sequence[bool], rows: Sequence[Row]) -> Table:
    return Table(tuple(headers), tuple(rows), tuple(numeric))


def _sources(sources: Sequence[Any]) -> str:
    shown = [fmt.text(s) for s in sources[:MAX_SOURCES_LISTED]]
    more = len(sources) - len(shown)
    listed = ", ".join(shown) if shown else fmt.NONE
    return f"Sources: {listed}" + (f" (and {more:,} more)" if more > 0 else "")


def _filters(filters: Mapping[str, Any]) -> str:
    given = [f"{fmt.text(k)} = {fmt.text(v)}" for k, v in filters.items() if v is not None]
    return "Filters: " + ("; ".join(given) if given else NOTHING)


def overview(summary: Mapping[str, Any]) -> Section:
    """What was analysed: sources, filters, time window and the totals."""
    window = _map(summary.get("window"))
    sources = summary.get("sources")
    lines = (
        f"Generated: {fmt.when(summary.get('generated_at'))}",
        _sources(sources if isinstance(sources, list) else []),
        _filters(_map(summary.get("filters"))),
        f"Window: {fmt.when(window.get('first'))} to {fmt.when(window.get('last'))}",
    )
    totals = _map(summary.get("totals"))
    names = (
        ("bundles", "bundles"),
        ("results", "probe records"),
        ("agents", "agents"),
        ("servers", "servers"),
        ("events", "escalation events"),
        ("load_runs", "load runs"),
    )
    rows = [Row((label, fmt.count(totals.get(key)))) for key, label in names]
    return Section(
        "overview",
        "Overview",
        (Block(lines=lines, table=_table(("what", "count"), (False, True), rows)),),
    )


def probes(summary: Mapping[str, Any]) -> Section:
    """One row per agent × server × probe kind with its figures."""
    rows = [
        Row(
            (
                fmt.text(r.get("agent")),
                fmt.text(r.get("server")),
                fmt.text(r.get("kind")),
                *_figures(r),
            )
        )
        for r in _rows(summary.get("probes"))
    ]
    headers = ("agent", "server", "probe", *FIGURE_HEADERS)
    table = _table(headers, (False, False, False, *_FIGURES_NUMERIC), rows)
    return Section("probes", "Probes: agent × server × probe", (Block(table=table),))


def _loss_key() -> str:
    classes = ", ".join(f"{name} {label}" for _, _, label, name in LOSS_CLASSES)
    return f"Loss colours (SmokePing's): {classes}; grey: the probe has no loss figure."


def latency(charts: Sequence[Chart]) -> Section:
    """SmokePing-style latency charts, one per agent × server × probe kind."""
    drawn = tuple(c for c in charts if c.kind == "latency")
    lines: tuple[str, ...] = ()
    if drawn:
        widths = sorted({fmt.plain(c.bucket_s) for c in drawn})
        lines = (
            f"Per bucket of {' / '.join(widths)} s: the median latency (line, marked in the "
            "colour of the bucket's loss) and the spread of the records, p10–p90 (light band) "
            "and p25–p75 (dark band); a red mark on the time axis is a bucket whose records "
            "were all lost. Every chart has the same time axis.",
            _loss_key(),
        )
    return Section("latency", "Latency over time", (Block(lines=lines, charts=drawn),))


def geo(summary: Mapping[str, Any]) -> Section:
    """The probe figures per country and per autonomous system of the agents."""
    groups = _map(summary.get("geo"))
    countries = [
        Row((fmt.text(r.get("country")) if r.get("country") else "unknown", *_figures(r)))
        for r in _rows(groups.get("country"))
    ]
    asns = [
        Row(
            (
                f"AS{fmt.text(r.get('asn'))}" if r.get("asn") is not None else "unknown",
                fmt.text(r.get("org")),
                *_figures(r),
            )
        )
        for r in _rows(groups.get("asn"))
    ]
    return Section(
        "geo",
        "By country and network",
        (
            Block(
                heading="Per country",
                table=_table(("country", *FIGURE_HEADERS), (False, *_FIGURES_NUMERIC), countries),
            ),
            Block(
                heading="Per autonomous system",
                table=_table(
                    ("AS", "organisation", *FIGURE_HEADERS), (False, False, *_FIGURES_NUMERIC), asns
                ),
            ),
        ),
    )


def escalations(summary: Mapping[str, Any], charts: Sequence[Chart]) -> Section:
    """Which tier ran when for each server (a step chart) and every change with its reason."""
    events = sorted(_rows(summary.get("escalations")), key=lambda e: fmt.epoch(e.get("t")) or 0.0)
    rows = [
        Row(
            (
                fmt.when(e.get("t")),
                fmt.text(e.get("agent")),
                fmt.text(e.get("server")),
                f"{fmt.text(e.get('from_tier'))} → {fmt.text(e.get('to_tier'))}",
                fmt.text(e.get("reason")),
            )
        )
        for e in events
    ]
    table = _table(("time", "agent", "server", "tier", "reason"), (False,) * 5, rows)
    drawn = tuple(c for c in charts if c.kind == "tiers")
    return Section("escalations", "Escalation timeline", (Block(charts=drawn, table=table),))


def load(summary: Mapping[str, Any], charts: Sequence[Chart]) -> Section:
    """Load runs with their percentiles, the targets' CPU/memory, and the framework
    comparison when the summary has one."""
    runs = [
        Row(
            (
                fmt.when(r.get("t")),
                fmt.text(r.get("agent")),
                fmt.text(r.get("target")),
                fmt.text(r.get("framework")),
                fmt.count(r.get("requests")),
                fmt.count(r.get("failures")),
                fmt.per_second(r.get("rps")),
                fmt.ms(r.get("p50_ms")),
                fmt.ms(r.get("p95_ms")),
                fmt.ms(r.get("p99_ms")),
            )
        )
        for r in _rows(summary.get("load"))
    ]
    headers = ("start", "agent", "target", "framework", "requests", "failures", "rate")
    run_table = _table((*headers, "p50", "p95", "p99"), (False,) * 4 + (True,) * 6, runs)
    blocks = [
        Block(heading="Load runs", table=run_table),
        Block(
            heading="Targets' CPU and memory",
            charts=tuple(c for c in charts if c.kind == "profile"),
        ),
        _comparison(_map(summary.get("comparison"))),
    ]
    return Section("load", "Load", tuple(blocks))


def _comparison(comparison: Mapping[str, Any]) -> Block:
    if not comparison:
        return Block(heading="Framework comparison")
    a, b = fmt.text(comparison.get("a")), fmt.text(comparison.get("b"))
    rows = [
        Row(
            (
                fmt.text(r.get("metric")),
                fmt.by_metric(str(r.get("metric", "")), r.get("a")),
                fmt.by_metric(str(r.get("metric", "")), r.get("b")),
                fmt.times(r.get("ratio")),
            )
        )
        for r in _rows(comparison.get("rows"))
    ]
    table = _table(("figure", a, b, f"{b} / {a}"), (False, True, True, True), rows)
    return Block(heading=f"Framework comparison: {a} vs {b}", table=table)


def _thresholds(thresholds: Mapping[str, Any]) -> str:
    return (
        f"Thresholds: mean latency {fmt.times(thresholds.get('avg_ratio'))}, "
        f"p95 latency {fmt.times(thresholds.get('p95_ratio'))}, "
        f"error rate {fmt.times(thresholds.get('error_rate_factor'))} the baseline."
    )


def regressions(summary: Mapping[str, Any]) -> Section:
    """The check against a baseline; regressed rows are highlighted."""
    check = _map(summary.get("regressions"))
    if not check:
        return Section(
            "regressions",
            "Regressions",
            (Block(lines=("none: no baseline was given (--baseline or --baseline-since).",)),),
        )
    rows = [
        Row(
            (
                fmt.text(r.get("agent")),
                fmt.text(r.get("server")),
                fmt.text(r.get("kind")),
                fmt.text(r.get("metric")),
                fmt.by_metric(str(r.get("metric", "")), r.get("baseline")),
                fmt.by_metric(str(r.get("metric", "")), r.get("current")),
                fmt.times(r.get("change_ratio")),
                fmt.text(r.get("rule")),
                "REGRESSED" if r.get("regressed") is True else "ok",
            ),
            highlight=r.get("regressed") is True,
        )
        for r in _rows(check.get("rows"))
    ]
    regressed = sum(1 for r in rows if r.highlight)
    verdict = (
        f"Regressed: {regressed:,} of {len(rows):,} figures."
        if regressed or check.get("regressed") is True
        else f"No regression ({len(rows):,} figures checked)."
    )
    headers = ("agent", "server", "probe", "figure", "baseline", "current", "change", "rule")
    table = _table((*headers, "verdict"), (False,) * 4 + (True,) * 3 + (False, False), rows)
    lines = (verdict, _thresholds(_map(check.get("thresholds"))))
    return Section("regressions", "Regressions", (Block(lines=lines, table=table),))


def data_quality(summary: Mapping[str, Any]) -> Section:
    """Every bundle left out of the analysis, and why."""
    quality = _map(summary.get("data_quality"))
    listed = _rows(quality.get("bundles"))
    skipped = fmt.number(quality.get("skipped"))
    total = int(skipped) if skipped is not None else len(listed)
    rows = [Row((fmt.text(b.get("source")), fmt.text(b.get("reason")))) for b in listed]
    lines: tuple[str, ...] = ()
    if total or rows:
        lines = (
            f"Bundles skipped: {total:,}"
            + (f" ({len(rows):,} listed)" if total != len(rows) else ""),
        )
    table = _table(("bundle", "reason"), (False, False), rows)
    return Section("data-quality", "Data quality", (Block(lines=lines, table=table),))


def build(summary: Mapping[str, Any]) -> Report:
    """The whole report for ``summary``: every section, always in the same order."""
    charts = build_charts(summary)
    sections = (
        overview(summary),
        probes(summary),
        latency(charts),
        geo(summary),
        escalations(summary, charts),
        load(summary, charts),
        regressions(summary),
        data_quality(summary),
    )
    return Report(TITLE, sections, tuple(charts))
