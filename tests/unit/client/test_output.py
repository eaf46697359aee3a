"""Table rendering and the probe command's pure helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waddleperf import output
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
    return "\n".join(output.render(result, width))


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


def test_degraded_table_shows_unmeasured_as_a_dash():
    text = _render(
        _result(status=Status.DEGRADED, error="The server answered HTTP 503 (1 of 2).",
                metrics={"rtt_avg_ms": None, "sent_count": 2})
    )  # fmt: skip
    assert "status: degraded" in text and "—" in text
    assert "error: The server answered HTTP 503 (1 of 2)." in text


def test_failed_probe_prints_no_empty_metric_table():
    text = _render(
        _result(status=Status.FAILED, error="No reply to any of 5 echo requests.",
                metrics={"rtt_avg_ms": None, "jitter_ms": None}, info={})
    )  # fmt: skip
    assert text.splitlines() == [
        "status: failed  (1.50 s)",
        "error: No reply to any of 5 echo requests.",
    ]


def test_failed_probe_keeps_its_counts_but_not_its_nulls():
    text = _render(
        _result(status=Status.FAILED, error="2 of 2 connects failed.",
                metrics={"connect_avg_ms": None, "refused_count": 2})
    )  # fmt: skip
    assert "refused" in text and "connect avg" not in text and "—" not in text


def test_interrupted_status_line():
    text = _render(_result(status=Status.INTERRUPTED, error="Interrupted (Ctrl-C, SIGINT)."))
    assert "status: interrupted  (1.50 s)" in text and "rtt avg" in text


def test_colour_only_when_asked():
    plain = "\n".join(output.render(_result(), 100, color=False))
    coloured = "\n".join(output.render(_result(), 100, color=True))
    assert "\x1b[" not in plain
    assert "\x1b[1;32mok\x1b[0m" in coloured
    assert coloured.replace("\x1b[0m", "").count("\x1b[") >= 3  # title, headers, status


def test_no_colour_with_no_color_set(monkeypatch):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.use_color(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.use_color(Tty())
    monkeypatch.delenv("NO_COLOR")
    assert not output.use_color(io.StringIO())


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


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, ("0", "bytes")), (1500, ("1500", "bytes")), (10_240, ("10.0", "KiB")),
     (123_456_789, ("118", "MiB")), (5 * 1024**3, ("5.00", "GiB"))],
)  # fmt: skip
def test_humanise_bytes(count, expected):
    assert output.humanise_bytes(count) == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(999, ("999", "bit/s")), (12_500, ("12.5", "kbit/s")), (941.5e6, ("942", "Mbit/s")),
     (2.5e9, ("2.50", "Gbit/s"))],
)  # fmt: skip
def test_humanise_rate(rate, expected):
    assert output.humanise_rate(rate) == expected


def test_metric_cells_humanise_bytes_and_rates_only():
    assert output.metric_cells("body_bytes", 123_456_789) == ("body", "118", "MiB")
    assert output.metric_cells("path_mtu_bytes", 1500) == ("path mtu", "1500", "bytes")
    assert output.metric_cells("throughput_mbps", 941.5) == ("throughput", "942", "Mbit/s")
    assert output.metric_cells("upload_blob_mb", 20) == ("upload blob", "20.0", "MiB")
    assert output.metric_cells("rtt_avg_ms", 0.25) == ("rtt avg", "0.250", "ms")
    assert output.metric_cells("throughput_mbps", None) == ("throughput", "—", "Mbit/s")


HOP = {
    "hop": 1, "address": "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff",
    "name": "router.example.net", "loss_pct": 0.0, "sent_count": 3, "rtt_last_ms": 1.5,
    "rtt_avg_ms": 1.25, "rtt_best_ms": 1.0, "rtt_worst_ms": 123.456, "rtt_stdev_ms": 0.2,
}  # fmt: skip


def _hops(result: Result, width: int) -> list[str]:
    lines = output.samples_table(result, width=width)
    assert lines is not None
    return lines


@pytest.mark.parametrize("width", [30, 50, 80, 200])
def test_trace_table_never_cuts_an_address_or_a_number(width):
    trace = _result(kind="probe.trace", metrics={"hops_count": 1}, samples=[HOP])
    lines = _hops(trace, width=width)
    row = next(line for line in lines if "2001:db8" in line)
    # The whole address on the row's first line, every figure whole in its cell.
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1] == HOP["address"]
    assert cells[3:] == ["0.000", "3", "1.500", "1.250", "1.000", "123.456", "0.200"]
    assert "…" not in "\n".join(lines)
    # Only the name may wrap, and it loses nothing.
    names = "".join(line.split("│")[3].strip() for line in lines if line.startswith("│"))
    assert names == HOP["name"]


def test_trace_headers_fold_on_a_narrow_terminal_only():
    trace = _result(kind="probe.trace", metrics={"hops_count": 1}, samples=[HOP])
    wide = _hops(trace, width=300)
    assert "rtt worst (ms)" in wide[2]  # title, top rule, then one header line
    narrow = _hops(trace, width=80)
    assert "rtt worst (ms)" not in "\n".join(narrow) and "worst" in "\n".join(narrow)


def test_trace_leaves_out_a_column_no_hop_has():
    trace = _result(kind="probe.trace", metrics={"hops_count": 1},
                    samples=[{**HOP, "name": None}])  # fmt: skip
    assert " name " not in "\n".join(_hops(trace, width=200))
