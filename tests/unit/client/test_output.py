"""Table rendering and the probe command's pure helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer
from pydantic import ValidationError
from rich.console import Console

from waddleperf import output, probe_cli
from waddleperf.probes import base
from waddleperf.results.model import Result, Status

T0 = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)


def _result(**kw):
    data = dict(
        kind="probe.icmp", target="127.0.0.1", started_at=T0,
        finished_at=T0 + timedelta(seconds=1.5), status=Status.OK,
        metrics={"rtt_avg_ms": 0.0312, "loss_pct": 0.0, "sent_count": 5, "jitter_ms": 0.00004},
        info={"address": "127.0.0.1", "hmac": False},
    )  # fmt: skip
    data.update(kw)
    return Result.model_validate(data)


def _render(result, width=100):
    console = Console(record=True, width=width, color_system=None)
    output.print_result(result, console)
    return console.export_text()


def test_split_metric_and_format():
    assert output.split_metric("rtt_avg_ms") == ("rtt avg", "ms")
    assert output.split_metric("throughput_mbps") == ("throughput", "Mbit/s")
    assert output.format_value(None) == "—"
    assert output.format_value(5) == "5"
    assert output.format_value(0.0312) == "0.031"
    assert output.format_value(0.00004) == "4e-05"
    assert output.format_value(True) == "yes"


def test_table_has_metrics_units_status():
    text = _render(_result())
    assert "probe.icmp  127.0.0.1" in text
    assert "rtt avg" in text and "0.031" in text and "ms" in text
    assert "loss" in text and "%" in text
    assert "status: ok  (1.50 s)" in text
    assert "address" in text


def test_table_shows_error_and_unmeasured():
    text = _render(
        _result(status=Status.FAILED, error="No reply to any of 5 echo requests.",
                metrics={"rtt_avg_ms": None})
    )  # fmt: skip
    assert "status: failed" in text and "—" in text
    assert "error: No reply to any of 5 echo requests." in text


def test_build_options_renames_and_skips_unset():
    raw = probe_cli.build_options(
        "h", {"count": 3, "interval": None, "tcp": False, "resolver": [], "size": 64}, False, True
    )
    assert raw == {"target": "h", "count": 3, "size_bytes": 64, "family": "ipv6"}
    with pytest.raises(typer.BadParameter):
        probe_cli.build_options("h", {}, True, True)


def test_usage_errors_name_cli_options():
    probe = base.get("dns")
    with pytest.raises(ValidationError) as info:
        probe.options({"target": "x.test", "count": 0, "mode": "raw", "record_type": "NOPE"})
    lines = probe_cli.usage_errors("dns", info.value)
    assert "--count: Input should be greater than or equal to 1" in lines
    assert "--mode does not apply to probe dns" in lines
    assert any(line.startswith("--type: unknown record type") for line in lines)


def test_trace_hops_get_a_table_of_their_own():
    hops = [
        {"hop": 1, "address": "10.250.1.1", "name": None, "loss_pct": 0.0, "sent_count": 3,
         "rtt_last_ms": 1.5, "rtt_avg_ms": 1.25, "rtt_best_ms": 1.0, "rtt_worst_ms": 1.5,
         "rtt_stdev_ms": 0.2},
        {"hop": 2, "address": None, "name": None, "loss_pct": 100.0, "sent_count": 3,
         "rtt_last_ms": None, "rtt_avg_ms": None, "rtt_best_ms": None, "rtt_worst_ms": None,
         "rtt_stdev_ms": None},
    ]  # fmt: skip
    trace = _result(kind="probe.trace", metrics={"hops_count": 2}, samples=hops)
    text = _render(trace, width=200)
    assert "hops" in text and "rtt avg (ms)" in text
    row1 = next(line for line in text.splitlines() if "10.250.1.1" in line)
    assert "1.250" in row1 and "0.000" in row1
    row2 = next(line for line in text.splitlines() if "100.000" in line)
    assert row2.count("—") >= 5
    # Probes without row samples print no such table.
    assert output.samples_table(_result()) is None


def test_option_pairs_reach_any_model_field():
    raw = probe_cli.build_options(
        "http://h/", {"count": 3}, False, False,
        ["download_streams=8", "tests=[download, ping]", "mebibits=true", "count=9"],
    )  # fmt: skip
    assert raw["download_streams"] == 8 and raw["tests"] == ["download", "ping"]
    assert raw["mebibits"] is True
    assert raw["count"] == 3  # the named flag wins over --option
    with pytest.raises(typer.BadParameter, match="NAME=VALUE"):
        probe_cli.parse_extra(["no-equals-sign"])


def test_option_errors_name_the_option():
    probe = base.get("speedtest")
    with pytest.raises(ValidationError) as exc:
        probe.options(
            probe_cli.build_options("http://h/", {}, False, False, ["download_streams=99"])
        )
    assert any(line.startswith("--option download_streams:")
               for line in probe_cli.usage_errors("speedtest", exc.value))  # fmt: skip
