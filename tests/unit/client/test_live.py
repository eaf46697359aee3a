"""Live lines: the text each probe event becomes on a terminal."""

from __future__ import annotations

import io

import pytest

from waddleperf.live import LiveLines, LivePrinter, format_ms
from waddleperf.probes.progress import Hop, Interval, Reply, Start


@pytest.mark.parametrize(
    ("ms", "text"), [(0.0452, "0.045"), (1.234, "1.23"), (12.34, "12.3"), (123.4, "123")]
)
def test_format_ms_three_figures(ms, text):
    assert format_ms(ms) == text


def test_echo_lines_like_ping():
    live = LiveLines("probe.icmp", "localhost")
    assert live.lines(Start("127.0.0.1", "56 bytes, raw socket")) == [
        "icmp localhost (127.0.0.1): 56 bytes, raw socket"
    ]
    assert live.lines(Reply(0, True, 0.0452, "ttl=64")) == ["127.0.0.1: seq=0 time=0.045 ms ttl=64"]
    assert live.lines(Reply(0, True, 0.05, "ttl=64", duplicate=True)) == [
        "127.0.0.1: seq=0 time=0.050 ms ttl=64 (DUP!)"
    ]
    assert live.lines(Reply(1, False, None, "no reply within 2 s")) == [
        "127.0.0.1: seq=1 no reply within 2 s"
    ]


def test_reply_without_a_start_has_no_address():
    live = LiveLines("probe.dns", "example.test")
    line = live.lines(Reply(3, True, 1.5, "127.0.0.1:53 NOERROR 127.0.0.1"))
    assert line == ["seq=3 time=1.50 ms 127.0.0.1:53 NOERROR 127.0.0.1"]


def test_hop_lines():
    live = LiveLines("probe.trace", "x")
    assert live.lines(Hop(0, 5, 1, "10.0.0.1", 0.5)) == ["round 1/5  hop  1  10.0.0.1  0.500 ms"]
    assert live.lines(Hop(1, 5, 2, None, None)) == ["round 2/5  hop  2  *"]
    assert live.lines(Hop(4, 5, 12, "::1", 25.0, final=True)) == [
        "round 5/5  hop 12  ::1  25.0 ms  (destination)"
    ]


def test_interval_figures_humanised_like_the_table():
    live = LiveLines("probe.speedtest", "http://x/")
    event = Interval(
        "download", {"elapsed_s": 3.0, "goodput_mbps": 94.3, "moved_bytes": 36_000_000}
    )
    assert live.lines(event) == ["download: elapsed 3.000 s, goodput 94.3 Mbit/s, moved 34.3 MiB"]
    assert live.lines(Interval("idle")) == ["idle"]


def test_printer_writes_and_counts_lines():
    stream = io.StringIO()
    printer = LivePrinter(LiveLines("probe.tcp", "h:1"), stream)
    printer(Start("127.0.0.1 port 1"))
    printer(Reply(0, False, None, "refused: connection refused (ECONNREFUSED)"))
    assert printer.printed == 2
    assert stream.getvalue().splitlines()[1] == (
        "127.0.0.1 port 1: seq=0 refused: connection refused (ECONNREFUSED)"
    )
