"""Regression of current probe figures against a baseline, per agent × server × kind; pure.

The load comparison's rules (:class:`waddleperf.load.compare.Rules`, the one source of the
defaults): mean latency regressed when current > ``avg_ratio`` × baseline (1.10), p95 latency
when current > ``p95_ratio`` × baseline (1.20), error rate (failed records / records) when
current > ``error_rate_factor`` × baseline (2.0) *and* it rose by more than the load rules'
floor (0.1 percentage points, so 0 → one failure in 10 000 is not a regression). A group or a
figure the baseline does not have is listed, never regressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from waddleperf.load.compare import Rules

_DEFAULT = Rules()
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Thresholds:
    """Ratios above which a figure counts as regressed."""

    avg_ratio: float = _DEFAULT.latency_avg_ratio or 1.1
    p95_ratio: float = _DEFAULT.latency_p95_ratio or 1.2
    error_rate_factor: float = _DEFAULT.error_rate_ratio or 2.0
    #: Least rise of the error rate that can count, as a fraction (0.001 = 0.1 points).
    error_floor: float = _DEFAULT.error_floor_pct / 100.0

    def __post_init__(self) -> None:
        for name in ("avg_ratio", "p95_ratio", "error_rate_factor"):
            if not getattr(self, name) > 0:
                raise ValueError(f"threshold {name} must be above 0, not {getattr(self, name)}")

    def as_dict(self) -> dict[str, float]:
        """The three thresholds as ``summary.json`` names them."""
        return {"avg_ratio": self.avg_ratio, "p95_ratio": self.p95_ratio,
                "error_rate_factor": self.error_rate_factor}  # fmt: skip


@dataclass(frozen=True)
class Group:
    """The figures of one agent × server × kind that the rules look at."""

    count: int
    failures: int
    mean_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """Failed records over records (None for no records)."""
        return self.failures / self.count if self.count else None


def _ratio(current: float | None, baseline: float | None) -> float | None:
    if current is None or baseline is None or baseline == 0:
        return None
    return current / baseline


def _row(key: Key, metric: str, base: float | None, cur: float | None, rule: str,
         regressed: bool) -> dict[str, Any]:  # fmt: skip
    agent, server, kind = key
    return {"agent": agent, "server": server, "kind": kind, "metric": metric, "baseline": base,
            "current": cur, "change_ratio": _ratio(cur, base), "rule": rule,
            "regressed": regressed}  # fmt: skip


def _latency(key: Key, metric: str, base: float | None, cur: float | None,
             ratio: float) -> dict[str, Any]:  # fmt: skip
    rule = f"current > {ratio:.2f} × baseline"
    if base is None or cur is None:
        return _row(key, metric, base, cur, "no baseline" if base is None else rule, False)
    return _row(key, metric, base, cur, rule, base > 0 and cur > base * ratio)


def _errors(key: Key, base: float | None, cur: float | None, t: Thresholds) -> dict[str, Any]:
    rule = (f"current > {t.error_rate_factor:g} × baseline and "
            f"+{t.error_floor * 100:g} points or more")  # fmt: skip
    if base is None or cur is None:
        return _row(key, "error_rate", base, cur, "no baseline" if base is None else rule, False)
    regressed = cur > base * t.error_rate_factor and cur - base > t.error_floor
    return _row(key, "error_rate", base, cur, rule, regressed)


def compare(baseline: Mapping[Key, Group], current: Mapping[Key, Group],
            thresholds: Thresholds) -> list[dict[str, Any]]:  # fmt: skip
    """One row per figure of every current group (sorted by group, then metric)."""
    rows: list[dict[str, Any]] = []
    for key in sorted(current):
        cur = current[key]
        base = baseline.get(key)
        rows.append(_latency(key, "rtt_mean_ms", base.mean_ms if base else None, cur.mean_ms,
                             thresholds.avg_ratio))  # fmt: skip
        rows.append(_latency(key, "rtt_p95_ms", base.p95_ms if base else None, cur.p95_ms,
                             thresholds.p95_ratio))  # fmt: skip
        rows.append(_errors(key, base.error_rate if base else None, cur.error_rate, thresholds))
    return rows


def regressions(rows: Iterable[Mapping[str, Any]], thresholds: Thresholds) -> dict[str, Any]:
    """The ``regressions`` object of ``summary.json`` from :func:`compare`'s rows."""
    listed = [dict(r) for r in rows]
    return {"thresholds": thresholds.as_dict(), "regressed": any(r["regressed"] for r in listed),
            "rows": listed}  # fmt: skip
