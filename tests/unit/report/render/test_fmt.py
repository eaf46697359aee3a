"""Figures as a person reads them: units, significant figures, missing values, times."""

from __future__ import annotations

import math

import pytest

from waddleperf.report.render import fmt


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.4123, "0.412 ms"),
        (3.456, "3.46 ms"),
        (23.44, "23.4 ms"),
        (123.6, "124 ms"),
        (1250, "1.25 s"),
        (0, "0 ms"),
        (None, fmt.NONE),
        (math.nan, fmt.NONE),
        (math.inf, fmt.NONE),
        ("12", fmt.NONE),
        (True, fmt.NONE),
    ],
)
def test_ms(value: object, shown: str) -> None:
    assert fmt.ms(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (940, "940 bit/s"),
        (94_100_000, "94.1 Mbit/s"),
        (1.25e9, "1.25 Gbit/s"),
        (12_345, "12.3 kbit/s"),
        (None, fmt.NONE),
    ],
)
def test_bps_uses_si_prefixes(value: object, shown: str) -> None:
    assert fmt.bps(value) == shown


def test_size_uses_binary_prefixes() -> None:
    assert fmt.size(512) == "512 B"
    assert fmt.size(48.2 * 1024 * 1024) == "48.2 MiB"
    assert fmt.size(3 * 1024**3) == "3.00 GiB"


def test_ratios_percent_and_factors() -> None:
    assert fmt.pct(0.0125) == "1.25 %"
    assert fmt.pct(0) == "0 %"
    assert fmt.pct(1) == "100 %"
    assert fmt.percent(37.5) == "37.5 %"
    assert fmt.times(1.149) == "×1.15"
    assert fmt.times(None) == fmt.NONE


def test_counts_group_thousands() -> None:
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.count(0) == "0"
    assert fmt.plain(2.0) == "2"
    assert fmt.plain(0.1234) == "0.123"


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("p95_ms", 23.75, "23.8 ms"),
        ("throughput_bps", 1e6, "1.00 Mbit/s"),
        ("rss_bytes", 1024, "1.00 KiB"),
        ("error_ratio", 0.001, "0.100 %"),
        ("cpu_percent", 50, "50.0 %"),
        ("rps", 150, "150 /s"),
        ("requests", 4000, "4,000"),
    ],
)
def test_by_metric_reads_the_unit_from_the_name(metric: str, value: float, shown: str) -> None:
    assert fmt.by_metric(metric, value) == shown


def test_times_parse_as_utc() -> None:
    assert fmt.epoch("1970-01-01T00:01:00Z") == 60.0
    assert fmt.epoch("1970-01-01T01:01:00+01:00") == 60.0
    assert fmt.epoch("1970-01-01T00:01:00") == 60.0  # no offset: read as UTC
    assert fmt.when("2026-05-01T12:00:05.25Z") == "2026-05-01 12:00:05 UTC"
    assert fmt.epoch("yesterday") is None
    assert fmt.epoch(12) is None
    assert fmt.when("yesterday") == "yesterday"  # shown, not lost
    assert fmt.when(None) == fmt.NONE


def test_text_is_one_line_without_control_characters() -> None:
    assert fmt.text("a\nb\r\tc\x00d\x1b[31m") == "a b c d [31m"
    assert fmt.text(None) == fmt.NONE
    assert fmt.text(True) == "yes"
    assert fmt.text(3320) == "3320"
