"""Comparing two load runs (A = reference, B = candidate) and regression rules; pure code.

A regression is B worse than A by more than a rule's ratio: average latency x1.1, p95 x1.2,
error rate x2 by default. An error rate that starts at 0 regresses when it rises by more than
``error_floor_pct`` percentage points (any ratio of 0 is undefined).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from waddleperf.results.model import Result

MetricMap = Mapping[str, float | int | None]

#: (metric, label, True when a higher value is better) in report order.
REPORT_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("throughput_rps", "throughput (req/s)", True),
    ("latency_avg_ms", "latency avg (ms)", False),
    ("latency_p50_ms", "latency p50 (ms)", False),
    ("latency_p90_ms", "latency p90 (ms)", False),
    ("latency_p95_ms", "latency p95 (ms)", False),
    ("latency_p99_ms", "latency p99 (ms)", False),
    ("latency_p99_9_ms", "latency p99.9 (ms)", False),
    ("latency_max_ms", "latency max (ms)", False),
    ("error_rate_pct", "error rate (%)", False),
    ("target_cpu_avg_pct", "target CPU avg (% machine)", False),
    ("target_cpu_max_pct", "target CPU max (% machine)", False),
    ("target_rss_avg_mb", "target RSS avg (MiB)", False),
    ("target_rss_max_mb", "target RSS max (MiB)", False),
    ("target_uss_max_mb", "target USS max (MiB)", False),
)


@dataclass(frozen=True)
class Rules:
    """Ratios B/A above which B has regressed. None switches a rule off."""

    latency_avg_ratio: float | None = 1.1
    latency_p95_ratio: float | None = 1.2
    error_rate_ratio: float | None = 2.0
    throughput_drop_ratio: float | None = None  # e.g. 0.9: B below 90% of A's req/s
    error_floor_pct: float = 0.1

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Rules:
        """Rules from ``name=value`` strings: avg, p95, errors, throughput, floor."""
        names = {
            "avg": "latency_avg_ratio",
            "p95": "latency_p95_ratio",
            "errors": "error_rate_ratio",
            "throughput": "throughput_drop_ratio",
            "floor": "error_floor_pct",
        }
        values: dict[str, float | None] = {}
        for spec in specs:
            key, sep, raw = spec.partition("=")
            if not sep or key.strip() not in names:
                raise ValueError(f"rule {spec!r}: expected one of {', '.join(names)} as name=value")
            text = raw.strip().lower()
            try:
                values[names[key.strip()]] = None if text in ("off", "none") else float(text)
            except ValueError:
                raise ValueError(f"rule {spec!r}: {raw!r} is not a number or 'off'") from None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    """One metric side by side; ``ratio`` is B/A, ``delta`` is B-A (None when undefined)."""

    metric: str
    label: str
    a: float | None
    b: float | None
    ratio: float | None
    delta: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class Comparison:
    """The side-by-side table and every rule B broke (a sentence each)."""

    a_name: str
    b_name: str
    rows: list[Row]
    regressions: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def _num(metrics: MetricMap, name: str) -> float | None:
    value = metrics.get(name)
    return float(value) if isinstance(value, int | float) else None


def _row(metric: str, label: str, better_high: bool, a: MetricMap, b: MetricMap) -> Row:
    va, vb = _num(a, metric), _num(b, metric)
    ratio = vb / va if va and vb is not None else None
    delta = vb - va if va is not None and vb is not None else None
    return Row(metric, label, va, vb, ratio, delta, better_high)


def regressions(a: MetricMap, b: MetricMap, rules: Rules) -> list[str]:
    """The rules B breaks against A, as sentences (empty: no regression)."""
    found: list[str] = []
    for metric, ratio, label in (
        ("latency_avg_ms", rules.latency_avg_ratio, "average latency"),
        ("latency_p95_ms", rules.latency_p95_ratio, "p95 latency"),
    ):
        va, vb = _num(a, metric), _num(b, metric)
        if ratio is not None and va is not None and vb is not None and va > 0 and vb > va * ratio:
            found.append(f"{label} {vb:.3f} ms > {ratio}x {va:.3f} ms")
    ea, eb = _num(a, "error_rate_pct"), _num(b, "error_rate_pct")
    if rules.error_rate_ratio is not None and eb is not None:
        base = ea or 0.0
        if eb > base * rules.error_rate_ratio and eb - base > rules.error_floor_pct:
            found.append(f"error rate {eb:.3f}% > {rules.error_rate_ratio}x {base:.3f}%")
    ta, tb = _num(a, "throughput_rps"), _num(b, "throughput_rps")
    drop = rules.throughput_drop_ratio
    if drop is not None and ta and tb is not None and tb < ta * drop:
        found.append(f"throughput {tb:.1f} req/s < {drop}x {ta:.1f} req/s")
    return found


def compare(
    a: MetricMap, b: MetricMap, rules: Rules | None = None, a_name: str = "A", b_name: str = "B"
) -> Comparison:
    """Side-by-side rows of every reported metric present in either run, and the verdict."""
    rules = rules or Rules()
    rows = [
        _row(metric, label, better_high, a, b)
        for metric, label, better_high in REPORT_ROWS
        if metric in a or metric in b
    ]
    return Comparison(a_name, b_name, rows, regressions(a, b, rules))


def overhead(a: MetricMap, b: MetricMap) -> dict[str, float | None]:
    """What B costs over A: CPU in percentage points of the machine and as a ratio, RSS in MiB.

    Named as record metrics (unit last) so a comparison record can carry them.
    """
    cpu_a, cpu_b = _num(a, "target_cpu_avg_pct"), _num(b, "target_cpu_avg_pct")
    rss_a, rss_b = _num(a, "target_rss_max_mb"), _num(b, "target_rss_max_mb")
    rps_a, rps_b = _num(a, "throughput_rps"), _num(b, "throughput_rps")
    per_req_a = cpu_a / rps_a if cpu_a is not None and rps_a else None
    per_req_b = cpu_b / rps_b if cpu_b is not None and rps_b else None
    return {
        "cpu_overhead_pct": None if cpu_a is None or cpu_b is None else round(cpu_b - cpu_a, 3),
        "cpu_per_request_ratio": round(per_req_b / per_req_a, 3)
        if per_req_a and per_req_b is not None
        else None,
        "rss_overhead_mb": None if rss_a is None or rss_b is None else round(rss_b - rss_a, 3),
    }


def report(
    cmp: Comparison,
    extra: Mapping[str, float | None],
    rules: Rules,
    a: Result,
    b: Result,
) -> dict[str, Any]:
    """The comparison as the JSON document ``comparison.json`` holds: which runs (name, run id,
    target), every row, the overhead figures, the regressions and the rules applied."""
    return {
        "a": {"name": cmp.a_name, "run_id": a.run_id, "target": a.target},
        "b": {"name": cmp.b_name, "run_id": b.run_id, "target": b.target},
        "rows": [asdict(row) for row in cmp.rows],
        "overhead": dict(extra),
        "regressions": list(cmp.regressions),
        "rules": asdict(rules),
    }


def table_lines(cmp: Comparison, extra: Mapping[str, float | None]) -> list[str]:
    """The comparison as a person reads it: metric, A, B and B/A per row, the overhead figures,
    then the verdict (``REGRESSION: …`` or ``no regression``)."""
    lines = [f"{'metric':<28}{cmp.a_name:>14}{cmp.b_name:>14}{'B/A':>9}"]
    for row in cmp.rows:
        a = "-" if row.a is None else f"{row.a:.3f}"
        b = "-" if row.b is None else f"{row.b:.3f}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        lines.append(f"{row.label:<28}{a:>14}{b:>14}{ratio:>9}")
    for key, value in extra.items():
        lines.append(f"{key:<28}{'-' if value is None else value:>37}")
    lines.append("REGRESSION: " + "; ".join(cmp.regressions) if cmp.regressed else "no regression")
    return lines
