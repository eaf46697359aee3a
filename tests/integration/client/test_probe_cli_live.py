"""``waddleperf probe`` as a person runs it: on a terminal (a pty), live lines per reply and per
hop, ``--quiet``, and Ctrl-C (SIGINT) giving the summary of what was measured, exit 130.

Real loopback targets: raw ICMP to 127.0.0.1 (root), TCP connects to a listener of the test.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port, tcp_stub, wait_until
from tests.support.schemas import validate_record
from tests.support.terminal import run_on_terminal

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
PLAIN = {"NO_COLOR": "1"}
#: "127.0.0.1: seq=3 time=0.045 ms ttl=64"
ECHO_LINE = re.compile(r"^127\.0\.0\.1: seq=(\d+) time=([\d.]+) ms ttl=\d+$", re.MULTILINE)
#: "127.0.0.1 port 4242: seq=0 time=0.105 ms connected"
CONNECT_LINE = re.compile(r"^127\.0\.0\.1 port \d+: seq=(\d+) time=[\d.]+ ms connected$", re.M)


def table_value(output: str, label: str) -> str:
    """The value cell of the summary table's row ``label`` (e.g. "sent")."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 3 and cells[0] == label:
            return cells[1]
    raise AssertionError(f"no {label!r} row in:\n{output}")


@pytest.fixture
def listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP listener on loopback that accepts and closes; yields (port, [accepted count])."""
    accepted = [0]

    def count(conn: socket.socket) -> None:
        accepted[0] += 1

    for port in tcp_stub(count):
        yield port, accepted


@pytest.mark.usefixtures("raw_sockets")
def test_icmp_prints_a_line_per_reply_then_the_summary():
    run = run_on_terminal(
        [WADDLEPERF, "probe", "icmp", "127.0.0.1", "--count", "4", "--interval", "0.05"],
        env=PLAIN,
    )
    assert run.returncode == 0, (run.output, run.stderr)
    assert run.lines[0] == "icmp 127.0.0.1 (127.0.0.1): 56 bytes, raw socket"
    replies = ECHO_LINE.findall(run.output)
    assert [int(seq) for seq, _ in replies] == [0, 1, 2, 3]
    # The lines carry the record's own figures: loopback RTTs are below 1 ms, where a line
    # and the table both show three decimals.
    rtts = sorted(rtt for _, rtt in replies)
    assert table_value(run.output, "rtt min") == rtts[0]
    assert table_value(run.output, "rtt max") == rtts[-1]
    assert table_value(run.output, "received") == "4"
    assert "status: ok" in run.output
    assert run.output.index("seq=3") < run.output.index("┏")  # lines first, then the table
    assert "\x1b[" not in run.output  # NO_COLOR
    assert run.stderr == ""


def test_tcp_lines_say_why_a_connect_failed():
    port = free_port()
    run = run_on_terminal(
        [WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}", "--count", "2", "--interval", "0"],
        env=PLAIN,
    )
    assert run.returncode == 1, (run.output, run.stderr)
    refused = [line for line in run.lines if "refused: connection refused (ECONNREFUSED)" in line]
    assert [line.split(": ")[1] for line in refused] == ["seq=0 refused", "seq=1 refused"]
    assert "status: failed" in run.output


def test_quiet_and_json_print_no_live_lines(listener):
    port, _ = listener
    base = [WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}", "--count", "2", "--interval", "0"]
    quiet = run_on_terminal([*base, "--quiet"], env=PLAIN)
    assert quiet.returncode == 0, quiet.stderr
    assert "seq=" not in quiet.output and "status: ok" in quiet.output
    as_json = run_on_terminal([*base, "--json"], env=PLAIN)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.output)["status"] == "ok"  # the record alone, on one line
    piped = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert "seq=" not in piped.stdout and "status: ok" in piped.stdout


@pytest.mark.usefixtures("raw_sockets")
def test_trace_prints_each_hop_of_each_round():
    run = run_on_terminal(
        [WADDLEPERF, "probe", "trace", "127.0.0.1", "--rounds", "2", "--interval", "0"],
        env=PLAIN,
        columns=60,
    )
    assert run.returncode == 0, (run.output, run.stderr)
    hops = [line for line in run.lines if line.startswith("round ")]
    assert [h.split("  (")[0].rsplit("  ", 1)[0] for h in hops] == [
        "round 1/2  hop  1  127.0.0.1",
        "round 2/2  hop  1  127.0.0.1",
    ]
    assert all(h.endswith("ms  (destination)") for h in hops)
    # A narrow terminal: the hops table keeps the address whole on one line.
    assert any(line.startswith("│") and " 127.0.0.1 " in line for line in run.lines)


@pytest.mark.usefixtures("raw_sockets")
def test_ctrl_c_prints_the_summary_of_what_was_measured():
    run = run_on_terminal(
        [WADDLEPERF, "probe", "icmp", "127.0.0.1", "--count", "1000", "--interval", "0.05"],
        env=PLAIN,
        interrupt_when=lambda out: len(ECHO_LINE.findall(out)) >= 3,
    )
    assert run.interrupted
    assert run.returncode == 130, (run.output, run.stderr)
    assert "Traceback" not in run.stderr
    lines = len(ECHO_LINE.findall(run.output))
    assert lines >= 3
    # Every request counted has its line; none was counted without one, none left out.
    assert table_value(run.output, "sent") == str(lines)
    assert table_value(run.output, "received") == str(lines)
    assert table_value(run.output, "lost") == "0"
    assert "status: interrupted" in run.output
    assert "error: Interrupted (Ctrl-C, SIGINT)" in run.output


def test_ctrl_c_counts_every_connect_it_printed(listener):
    port, _ = listener
    run = run_on_terminal(
        [WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}", "--count", "1000", "--interval", "0.05"],
        env=PLAIN,
        interrupt_when=lambda out: len(CONNECT_LINE.findall(out)) >= 3,
    )
    assert run.returncode == 130, (run.output, run.stderr)
    lines = len(CONNECT_LINE.findall(run.output))
    assert table_value(run.output, "attempt") == str(lines)
    assert table_value(run.output, "ok") == str(lines)
    assert "status: interrupted" in run.output


def test_ctrl_c_with_json_prints_the_interrupted_record(listener):
    port, accepted = listener
    argv = [WADDLEPERF, "probe", "tcp", f"127.0.0.1:{port}", "--count", "1000",
            "--interval", "0.05", "--json"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: accepted[0] >= 3, 30), "the probe never connected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert out.count("\n") == 1 and "Traceback" not in err
    record = json.loads(out)
    validate_record(record)
    assert record["status"] == "interrupted"
    assert record["error"].startswith("Interrupted (Ctrl-C, SIGINT)")
    ok = record["metrics"]["ok_count"]
    assert ok == record["metrics"]["attempt_count"] and ok >= 3
    # The listener saw every connect the record counts (and at most one cut short by Ctrl-C).
    assert wait_until(lambda: accepted[0] >= ok, 10)
    assert accepted[0] in (ok, ok + 1)
