"""The report's pure parts: filters and their SQL, bucket edges, regression rules, figures."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from waddleperf.report import regress
from waddleperf.report.buckets import WIDTHS_S, bucket_start, bucket_width, edges
from waddleperf.report.figures import LATENCY, derived_columns
from waddleperf.report.query import format_rows
from waddleperf.report.scope import Filters, conditions, literal, parse_kind, parse_time

T = datetime(2026, 11, 21, 10, 17, 31, tzinfo=UTC)


def test_literals_quote_strings_and_type_times() -> None:
    assert literal("o'brien") == "'o''brien'"
    assert literal(64500) == "64500"
    assert literal(T) == "TIMESTAMPTZ '2026-11-21T10:17:31.000000Z'"
    with pytest.raises(TypeError):
        literal(True)
    with pytest.raises(ValueError):
        literal(float("nan"))


def test_times_parse_as_utc_and_bad_ones_name_the_flag() -> None:
    assert parse_time("2026-11-21") == datetime(2026, 11, 21, tzinfo=UTC)
    assert parse_time("2026-11-21T12:00:00+02:00") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_time("2026-11-21T10:00:00Z").tzinfo is UTC
    with pytest.raises(ValueError, match="--since: 'yesterday'"):
        parse_time("yesterday", "since")
    assert parse_kind("icmp") == "probe.icmp" and parse_kind("load.locust") == "load.locust"


def test_conditions_per_view() -> None:
    f = Filters(since=T, until=T + timedelta(hours=1), agents=("a'1",), servers=("s",),
                kinds=("probe.icmp",), countries=("NL",), asns=(64500,))  # fmt: skip
    bundles = conditions(f, "bundles")
    assert "agent IN ('a''1')" in bundles and "country IN ('NL')" in bundles
    assert "asn IN (64500)" in bundles and any(c.startswith("started_at >= ") for c in bundles)
    results = conditions(f, "results")
    assert "kind IN ('probe.icmp')" in results and "server IN ('s')" in results
    assert not any("agent" in c for c in results)  # agents select bundles
    assert conditions(f, "events")[0] == "server IN ('s')"
    assert conditions(Filters(), "results") == []
    with pytest.raises(ValueError):
        conditions(f, "nope")
    assert f.as_dict() == {"since": "2026-11-21T10:17:31.000000Z",
                           "until": "2026-11-21T11:17:31.000000Z", "agent": ["a'1"],
                           "server": ["s"], "kind": ["probe.icmp"], "country": ["NL"],
                           "asn": [64500]}  # fmt: skip


def test_bucket_width_fits_the_window_and_edges_are_epoch_aligned() -> None:
    assert bucket_width(T, T + timedelta(minutes=30)) == 60
    assert bucket_width(T, T + timedelta(hours=3)) == 300  # 180 one-minute buckets > 120
    assert bucket_width(T, T + timedelta(days=1)) == 900  # 96 quarter hours
    assert bucket_width(T, T + timedelta(days=29)) == 21600  # 117 six-hour buckets
    assert bucket_width(T, T + timedelta(days=30)) == 43200  # 121 would be one too many
    assert bucket_width(T, T + timedelta(days=365 * 10)) % WIDTHS_S[-1] == 0
    width = 900
    axis = edges(T, T + timedelta(hours=2), width)
    assert axis[0] == datetime(2026, 11, 21, 10, 15, tzinfo=UTC)
    assert all((b - a).total_seconds() == width for a, b in itertools.pairwise(axis))
    assert axis[-1] == bucket_start(T + timedelta(hours=2), width)
    assert len(edges(T, T, 60)) == 1
    for days in (1, 7, 30, 400):
        last = T + timedelta(days=days)
        assert len(edges(T, last, bucket_width(T, last, 50))) <= 50
    with pytest.raises(ValueError):
        bucket_width(T, T, 0)


def _g(count: int, failures: int, mean: float | None, p95: float | None) -> regress.Group:
    return regress.Group(count, failures, mean, p95)


def test_regression_rules_and_their_edges() -> None:
    key = ("a", "s", "probe.icmp")
    t = regress.Thresholds()
    assert (t.avg_ratio, t.p95_ratio, t.error_rate_factor) == (1.1, 1.2, 2.0)

    def verdict(base: regress.Group, cur: regress.Group) -> dict[str, bool]:
        rows = regress.compare({key: base}, {key: cur}, t)
        return {r["metric"]: r["regressed"] for r in rows}

    base = _g(1000, 10, 10.0, 20.0)
    assert verdict(base, _g(1000, 10, 11.0, 24.0)) == {
        "rtt_mean_ms": False, "rtt_p95_ms": False, "error_rate": False}  # fmt: skip
    assert verdict(base, _g(1000, 10, 11.01, 24.01))["rtt_mean_ms"]
    assert verdict(base, _g(1000, 10, 10, 24.01))["rtt_p95_ms"]
    assert verdict(base, _g(1000, 21, 10, 20))["error_rate"]
    assert not verdict(base, _g(1000, 20, 10, 20))["error_rate"]  # ×2 exactly: not above
    # from zero: the 0.1-point floor decides
    assert not verdict(_g(10000, 0, 10, 20), _g(10000, 1, 10, 20))["error_rate"]
    assert verdict(_g(10000, 0, 10, 20), _g(10000, 11, 10, 20))["error_rate"]
    rows = regress.compare({}, {key: base}, t)
    assert all(r["rule"] == "no baseline" and not r["regressed"] for r in rows)
    doc = regress.regressions(regress.compare({key: base}, {key: _g(1000, 10, 12, 20)}, t), t)
    assert doc["regressed"] and doc["thresholds"] == {"avg_ratio": 1.1, "p95_ratio": 1.2,
                                                      "error_rate_factor": 2.0}  # fmt: skip
    assert doc["rows"][0]["change_ratio"] == pytest.approx(1.2)
    loose = regress.Thresholds(avg_ratio=1.5)
    assert not regress.compare({key: base}, {key: _g(1000, 10, 12, 20)}, loose)[0]["regressed"]
    with pytest.raises(ValueError, match="avg_ratio"):
        regress.Thresholds(avg_ratio=0)


def test_derived_columns_name_each_kinds_metric() -> None:
    cols = derived_columns()
    assert set(cols) == {"latency_ms", "latency_p95_ms", "loss_ratio", "jitter_ms",
                         "throughput_bps"}  # fmt: skip
    for kind, metric in LATENCY.items():
        assert f"WHEN '{kind}' THEN metrics['{metric}']" in cols["latency_ms"]
    assert "* 1e6" in cols["throughput_bps"] and "/ 100.0" in cols["loss_ratio"]


def test_rows_format_as_table_csv_and_json() -> None:
    names = ["agent", "t", "m"]
    rows = [("a,1", T, {"x": 1.5}), (None, None, None)]
    csv_text = format_rows(names, rows, "csv")
    assert csv_text.splitlines()[0] == "agent,t,m"
    assert csv_text.splitlines()[1] == '"a,1",2026-11-21T10:17:31.000000Z,"{""x"": 1.5}"'
    assert '"t": "2026-11-21T10:17:31.000000Z"' in format_rows(names, rows, "json")
    table = format_rows(names, rows, "table")
    assert table.splitlines()[0].split() == names and table.rstrip().endswith("(2 rows)")


def test_the_default_catalog_is_in_the_users_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from waddleperf.report.catalog import default_catalog

    monkeypatch.setenv("XDG_CACHE_HOME", "/srv/cache")
    assert default_catalog() == Path("/srv/cache/waddleperf/catalog.duckdb")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_catalog() == Path.home() / ".cache" / "waddleperf" / "catalog.duckdb"
