"""``waddleperf probe`` as a subprocess: exit codes, --json output against the schema."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port, wait_until
from tests.support.schemas import validate_record

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WADDLEPERF, "probe", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_json_ok_exit_0_and_valid_record():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        port = srv.getsockname()[1]
        proc = _cli("tcp", f"127.0.0.1:{port}", "--count", "3", "--interval", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["kind"] == "probe.tcp" and record["status"] == "ok"
    assert record["params"]["count"] == 3
    assert proc.stderr == ""  # no progress or chatter when stderr is not a terminal


def test_failed_measurement_exit_1():
    proc = _cli("tcp", f"127.0.0.1:{free_port()}", "--count", "1", "--json")
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["status"] == "failed" and "refused" in record["error"]


def test_table_output():
    proc = _cli("icmp", "127.0.0.1", "--count", "2", "--interval", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert "rtt avg" in proc.stdout and "status: ok" in proc.stdout


def test_usage_errors_exit_2():
    # One of each path to exit 2; the messages themselves are unit-tested.
    for args in (
        ["nope", "x"],
        ["tcp", "bad host:80"],
        ["icmp", "127.0.0.1", "--type", "A"],
        ["tcp", "127.0.0.1:1", "-4", "-6"],
    ):
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert proc.stderr.startswith("waddleperf probe")


def test_dns_json_against_dnsmasq(dnsmasq):
    proc = _cli("dns", "www.lab.test", "--resolver", f"127.0.0.1:{dnsmasq}", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    validate_record(record)
    assert record["info"]["answers"] == "127.0.0.1"


def test_http_json_against_server(shared_server):
    proc = _cli("http", f"{shared_server.base_url}/echo", "--count", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    validate_record(json.loads(proc.stdout))


def icmp_socket_open(pid: int) -> bool:
    """Whether process ``pid`` holds an ICMP socket, raw or datagram (its inode listed in
    /proc/net/raw or /proc/net/icmp)."""
    inodes = set()
    for table in ("raw", "raw6", "icmp", "icmp6"):
        try:
            lines = Path("/proc/net", table).read_text().splitlines()[1:]
        except OSError:
            continue
        inodes |= {line.split()[9] for line in lines}
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link[8:-1] in inodes for link in links if link.startswith("socket:["))


def test_ctrl_c_stops_cleanly():
    import signal

    proc = subprocess.Popen(
        [WADDLEPERF, "probe", "icmp", "127.0.0.1", "--count", "1000", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupted once it is probing (its raw socket is open), not after a guessed second: a
    # busy machine can take longer than that to start Python and import the probe.
    assert wait_until(lambda: icmp_socket_open(proc.pid), 30), "the probe never opened its socket"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "status: interrupted" in out  # the summary of what was measured, even in a pipe
