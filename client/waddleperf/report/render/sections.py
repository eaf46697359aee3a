"""From a summary dict (``summary.json``'s shape, :mod:`waddleperf.report.summary_model`) to
the report's sections: overview, probes, latency over time, geography, escalations, load,
regressions and data quality — the same for every output format.

The summary comes from bundles written in the field, so nothing in it is trusted: a missing or
mistyped part reads as empty (its block says "none"), every value is turned into text here and
escaped by the writer of each format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from waddleperf.report.render import fmt
from waddleperf.report.render.charts import LOSS_CLASSES, Chart
from waddleperf.report.render.charts import build as build_charts
from waddleperf.report.render.model import NOTHING, Block, Report, Row, Section, Table

TITLE = "WaddlePerf report"
MAX_SOURCES_LISTED = 20
MAX_SKIPPED_LISTED = 1000  # a page and a Markdown file a person can still scroll


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


Cell = Callable[[Mapping[str, Any]], str]
Column = tuple[str, Cell, bool]  # heading, the cell from a record, whether it is a figure


def _get(key: str, shown: Callable[[Any], str]) -> Cell:
    return lambda record: shown(record.get(key))


def _metric(key: str) -> Cell:
    """The record's ``key`` in the unit its ``metric`` names (``p95_ms``, ``rps``…)."""
    return lambda record: fmt.by_metric(str(record.get("metric", "")), record.get(key))


def _by_columns(
    columns: Sequence[Column],
    records: Sequence[Mapping[str, Any]],
    highlight: Callable[[Mapping[str, Any]], bool] = lambda _: False,
) -> Table:
    rows = [Row(tuple(cell(r) for _, cell, _ in columns), highlight(r)) for r in records]
    return Table(tuple(h for h, _, _ in columns), tuple(rows), tuple(n for _, _, n in columns))


def _rtt(key: str) -> Cell:
    return lambda record: fmt.ms(_map(record.get("rtt_ms")).get(key))


def _text(key: str) -> Column:
    return (key, _get(key, fmt.text), False)


# The figures of a group of probe records (agent × server × kind, a country, an AS).
FIGURE_COLUMNS: tuple[Column, ...] = (
    ("count", _get("count", fmt.count), True),
    ("failures", _get("failures", fmt.count), True),
    *((q, _rtt(q), True) for q in ("mean", "p50", "p95", "p99")),
    ("loss", _get("loss_ratio", fmt.pct), True),
    ("jitter", _get("jitter_ms", fmt.ms), True),
    ("throughput", _get("throughput_bps", fmt.bps), True),
)
PROBE_COLUMNS = (_text("agent"), _text("server"), ("probe", _get("kind", fmt.text), False))
COUNTRY_COLUMNS: tuple[Column, ...] = (
    ("country", lambda r: fmt.text(r.get("country")) if r.get("country") else "unknown", False),
    *FIGURE_COLUMNS,
)
ASN_COLUMNS: tuple[Column, ...] = (
    ("AS", lambda r: "unknown" if r.get("asn") is None else f"AS{fmt.text(r.get('asn'))}", False),
    ("organisation", _get("org", fmt.text), False),
    *FIGURE_COLUMNS,
)
ESCALATION_COLUMNS: tuple[Column, ...] = (
    ("time", _get("t", fmt.when), False),
    _text("agent"),
    _text("server"),
    ("tier", lambda e: f"{fmt.text(e.get('from_tier'))} → {fmt.text(e.get('to_tier'))}", False),
    _text("reason"),
)
SKIPPED_COLUMNS: tuple[Column, ...] = (("bundle", _get("source", fmt.text), False), _text("reason"))


def _regressed(record: Mapping[str, Any]) -> bool:
    return record.get("regressed") is True


LOAD_COLUMNS: tuple[Column, ...] = (
    ("start", _get("t", fmt.when), False),
    _text("agent"),
    _text("target"),
    _text("framework"),
    ("requests", _get("requests", fmt.count), True),
    ("failures", _get("failures", fmt.count), True),
    ("rate", _get("rps", fmt.per_second), True),
    ("p50", _get("p50_ms", fmt.ms), True),
    ("p95", _get("p95_ms", fmt.ms), True),
    ("p99", _get("p99_ms", fmt.ms), True),
)
REGRESSION_COLUMNS: tuple[Column, ...] = (
    *PROBE_COLUMNS,
    ("figure", _get("metric", fmt.text), False),
    ("baseline", _metric("baseline"), True),
    ("current", _metric("current"), True),
    ("change", _get("change_ratio", fmt.times), True),
    ("rule", _get("rule", fmt.text), False),
    ("verdict", lambda r: "REGRESSED" if _regressed(r) else "ok", False),
)


def _sources(sources: Sequence[Any]) -> str:
    shown = [fmt.text(s) for s in sources[:MAX_SOURCES_LISTED]]
    more = len(sources) - len(shown)
    listed = ", ".join(shown) if shown else fmt.NONE
    return f"Sources: {listed}" + (f" (and {more:,} more)" if more > 0 else "")


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(fmt.text(v) for v in value)
    return fmt.text(value)


def _filters(filters: Mapping[str, Any]) -> str:
    given = [f"{fmt.text(k)} = {_value(v)}" for k, v in filters.items() if v not in (None, [])]
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
    rows = tuple(Row((label, fmt.count(totals.get(key)))) for key, label in names)
    table = Table(("what", "count"), rows, (False, True))
    return Section("overview", "Overview", (Block(lines=lines, table=table),))


def probes(summary: Mapping[str, Any]) -> Section:
    """One row per agent × server × probe kind with its figures."""
    table = _by_columns((*PROBE_COLUMNS, *FIGURE_COLUMNS), _rows(summary.get("probes")))
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
    return Section(
        "geo",
        "By country and network",
        (
            Block(
                heading="Per country",
                table=_by_columns(COUNTRY_COLUMNS, _rows(groups.get("country"))),
            ),
            Block(
                heading="Per autonomous system",
                table=_by_columns(ASN_COLUMNS, _rows(groups.get("asn"))),
            ),
        ),
    )


def escalations(summary: Mapping[str, Any], charts: Sequence[Chart]) -> Section:
    """Which tier ran when for each server (a step chart) and every change with its reason."""
    events = sorted(_rows(summary.get("escalations")), key=lambda e: fmt.epoch(e.get("t")) or 0.0)
    table = _by_columns(ESCALATION_COLUMNS, events)
    drawn = tuple(c for c in charts if c.kind == "tiers")
    return Section("escalations", "Escalation timeline", (Block(charts=drawn, table=table),))


def load(summary: Mapping[str, Any], charts: Sequence[Chart]) -> Section:
    """Load runs with their percentiles, the targets' CPU/memory, and the framework
    comparison when the summary has one."""
    run_table = _by_columns(LOAD_COLUMNS, _rows(summary.get("load")))
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
    columns: tuple[Column, ...] = (
        ("figure", _get("metric", fmt.text), False),
        (a, _metric("a"), True),
        (b, _metric("b"), True),
        (f"{b} / {a}", _get("ratio", fmt.times), True),
    )
    table = _by_columns(columns, _rows(comparison.get("rows")))
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
    table = _by_columns(REGRESSION_COLUMNS, _rows(check.get("rows")), _regressed)
    regressed = sum(1 for r in table.rows if r.highlight)
    verdict = (
        f"Regressed: {regressed:,} of {len(table.rows):,} figures."
        if regressed or check.get("regressed") is True
        else f"No regression ({len(table.rows):,} figures checked)."
    )
    lines = (verdict, _thresholds(_map(check.get("thresholds"))))
    return Section("regressions", "Regressions", (Block(lines=lines, table=table),))


def data_quality(summary: Mapping[str, Any]) -> Section:
    """Every bundle left out of the analysis, and why (the first
    :data:`MAX_SKIPPED_LISTED`; summary.json has them all)."""
    quality = _map(summary.get("data_quality"))
    listed = _rows(quality.get("bundles"))
    skipped = fmt.number(quality.get("skipped"))
    total = int(skipped) if skipped is not None else len(listed)
    shown = listed[:MAX_SKIPPED_LISTED]
    lines: tuple[str, ...] = ()
    if total or listed:
        rest = "; the rest in summary.json" if len(shown) < len(listed) else ""
        note = f" ({len(shown):,} listed{rest})" if total != len(shown) else ""
        lines = (f"Bundles skipped: {total:,}{note}",)
    table = _by_columns(SKIPPED_COLUMNS, shown)
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
