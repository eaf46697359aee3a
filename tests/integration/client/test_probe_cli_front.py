"""The probe command's front door as a subprocess: per-kind help, usage errors, output forms,
and no traceback against services that are not what the probe expects (real loopback sockets).
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import tcp_stub
from waddleperf.cli.probe_flags import FAMILY_FLAGS, flags_of, has_family
from waddleperf.probes import base

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
#: Flags every kind has besides its model's.
COMMON = {"--option", "--json", "--pretty", "--quiet", "--help"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [WADDLEPERF, "probe", *args], capture_output=True, text=True, timeout=60, env=env
    )


def _long_flags(help_text: str) -> set[str]:
    """The long flags a help page lists in its Options section."""
    options = help_text.split("Options:", 1)[1]
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", options, re.MULTILINE))


@pytest.mark.parametrize("kind", base.names())
def test_kind_help_shows_its_model_options_and_only_them(kind):
    proc = _cli(kind, "--help")
    assert proc.returncode == 0, proc.stderr
    model = base.get(kind).options_model
    expected = {f.name for f in flags_of(model)} | COMMON
    if has_family(model):
        expected |= {decls[1] for decls in FAMILY_FLAGS.values()}
    assert _long_flags(proc.stdout) == expected
    assert "TARGET" in proc.stdout


def test_probe_help_lists_every_kind_with_its_summary():
    proc = _cli("--help")
    assert proc.returncode == 0, proc.stderr
    # Wrapping may break a line at a space or after a hyphen: compare without whitespace.
    text = "".join(proc.stdout.split())
    for kind in base.names():
        assert "".join(f"{kind} {base.summary_of(kind)}".split()) in text, kind
    assert "…" not in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["tcp", "127.0.0.1"],  # no port
        ["tcp", "127.0.0.1:1", "--count", "abc"],
        ["tcp", "127.0.0.1:1", "--count", "-1"],
        ["tcp"],  # no target
        ["icmp", "127.0.0.1", "--type", "A"],  # another kind's option
        ["nope", "x"],
        ["tcp", "127.0.0.1:1", "-4", "-6"],
        ["speedtest", "http://127.0.0.1:1/", "--download-streams", "99"],
        ["tcp", "127.0.0.1:1", "-o", "no-equals"],
    ],
)
def test_usage_errors_exit_2_one_line_no_record(args):
    proc = _cli(*args, "--json")
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("waddleperf probe"), proc.stderr


def test_count_abc_and_count_minus_one_read_alike():
    bad = _cli("tcp", "127.0.0.1:1", "--count", "abc").stderr
    negative = _cli("tcp", "127.0.0.1:1", "--count", "-1").stderr
    assert bad.startswith("waddleperf probe tcp: --count: ")
    assert negative.startswith("waddleperf probe tcp: --count: ")


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        yield srv.getsockname()[1]


def test_json_is_one_line_pretty_is_indented(listener):
    target = f"127.0.0.1:{listener}"
    one = _cli("tcp", target, "--count", "1", "--interval", "0", "--json")
    assert one.returncode == 0, one.stderr
    assert one.stdout.count("\n") == 1 and json.loads(one.stdout)["status"] == "ok"
    pretty = _cli("tcp", target, "--count", "1", "--interval", "0", "--pretty")
    assert pretty.returncode == 0, pretty.stderr
    assert pretty.stdout.count("\n") > 10 and pretty.stdout.startswith("{\n  ")
    assert json.loads(pretty.stdout)["kind"] == "probe.tcp"


def test_flags_that_were_only_option_fields_reach_the_model(listener):
    proc = _cli("tcp", f"127.0.0.1:{listener}", "--count", "2", "-o", "interval_s=0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["params"]["interval_s"] == 0


@pytest.fixture
def garbage_port() -> Iterator[int]:
    """A TCP server that answers every connection with a line that is not HTTP or SSH."""
    yield from tcp_stub(lambda conn: conn.sendall(b"garbage, neither HTTP nor SSH\r\n"))


@pytest.fixture
def plain_http() -> Iterator[int]:
    """Python's http.server on loopback: every path it does not have is a 404."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            del format, args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_rpm_against_a_non_http_port_is_a_sentence(garbage_port):
    proc = _cli("rpm", f"http://127.0.0.1:{garbage_port}/", "--json")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    record = json.loads(proc.stdout)
    assert record["status"] == "failed" and "did not answer HTTP" in record["error"]


def test_rpm_against_plain_http_reports_the_404(plain_http):
    # Repeated: the EBADF came only when the body had not arrived with the headers.
    for _ in range(3):
        proc = _cli("rpm", f"http://127.0.0.1:{plain_http}/", "--json")
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        error = json.loads(proc.stdout)["error"]
        assert "HTTP 404" in error and "Errno" not in error, error


def test_ssh_against_a_non_ssh_port_is_a_sentence(garbage_port):
    proc = _cli("ssh", f"127.0.0.1:{garbage_port}", "--timeout", "3", "--json")
    assert proc.returncode == 1
    assert proc.stderr == "", proc.stderr  # no paramiko thread traceback
    error = json.loads(proc.stdout)["error"]
    assert "sent no SSH banner" in error, error
