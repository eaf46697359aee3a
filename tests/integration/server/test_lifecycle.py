"""Server start-up and shutdown as an operator sees them: exit codes, messages, signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_until
from tests.support.sockhelp import children_named, gone, run_server_cli
from waddleperf.localstack import LocalServer

Factory = Callable[..., LocalServer]
ALL_OFF = ["--bind", "127.0.0.1", "--http-port", "0", "--tcp-echo-port", "0",
           "--udp-echo-port", "0", "--iperf-port", "0"]  # fmt: skip


def _one_clear_message(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, stderr  # the message, maybe a usage hint; no log spew
    for needle in needles:
        assert needle in stderr, (needle, stderr)


# Flags outrank the file and the environment, so the services are switched off in a file
# (and the bad value comes from whichever layer is under test).
OFF_YAML = "http: {port: 0}\ntcp_echo: {port: 0}\niperf: {port: 0}\nudp_echo: {port: 0}\n"


def _run_with(
    tmp_path: Path, yaml: str = "", args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "server.yml"
    cfg.write_text(OFF_YAML + yaml)
    return run_server_cli(["--bind", "127.0.0.1", "--config", str(cfg), *args], env=env)


@pytest.mark.parametrize(
    ("yaml", "args", "env", "needles"),
    [
        ("udp_echo: {port: abc}\n", (), None, ("udp_echo.port", "abc")),
        ("tcp_echo: {port: 70000}\n", (), None, ("tcp_echo.port", "70000")),
        ("udp_echo: {bogus: 1}\n", (), None, ("udp_echo.bogus",)),
        ("", ("--tcp-echo-port", "70000"), None, ("tcp_echo.port", "70000")),
        ("", (), {"WADDLEPERF_SERVER_UDP_ECHO_PORT": "x"},
         ("udp_echo.port", "'x'", "WADDLEPERF_SERVER_UDP_ECHO_PORT")),
        ("stats: {targets: [{name: flask}]}\n", (), None,
         ("stats.targets.0", "exactly one of pid_file, process_name or port", "got none")),
        ("stats: {targets: [{name: f, port: 8000, process_name: gunicorn}]}\n", (), None,
         ("stats.targets.0", "got process_name and port")),
        ("http: {max_connections_per_source: 0}\n", (), None,
         ("http.max_connections_per_source",)),
    ],
)  # fmt: skip
def test_bad_config_exits_2_with_one_message(
    tmp_path: Path,
    yaml: str,
    args: tuple[str, ...],
    env: dict[str, str] | None,
    needles: tuple[str, ...],
) -> None:
    run = _run_with(tmp_path, yaml, args, env)
    assert run.returncode == 2, run.stderr
    _one_clear_message(run.stderr, *needles)


def test_bad_flag_type_exits_2(tmp_path: Path) -> None:
    run = _run_with(tmp_path, args=("--udp-echo-port", "abc"))
    assert run.returncode == 2
    assert "--udp-echo-port" in run.stderr and "Traceback" not in run.stderr


def test_port_zero_disables_a_service(server_factory: Factory) -> None:
    srv = server_factory(services=("udp_echo",))
    log = srv.log()
    assert "started udp_echo" in log
    for name in ("tcp_echo", "iperf", "http"):
        assert f"started {name} " not in log


@pytest.mark.parametrize(
    ("service", "kind"),
    [
        ("tcp_echo", socket.SOCK_STREAM),
        ("udp_echo", socket.SOCK_DGRAM),
        ("iperf", socket.SOCK_STREAM),
    ],
)
def test_port_taken_exits_1(service: str, kind: socket.SocketKind) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            holder.listen()
        flag = f"--{service.replace('_', '-')}-port"
        run = run_server_cli([*ALL_OFF, flag, str(port)])
    assert run.returncode == 1, run.stderr
    assert f"cannot start {service}" in run.stderr
    assert "Traceback" not in run.stderr
    assert not _left_a_child_running(run.stderr)


def _left_a_child_running(stderr: str) -> bool:
    """Whether a failed start left an iperf3 running (its pid is in the log)."""
    pids = [int(word[4:]) for word in stderr.split() if word.startswith("pid=")]
    return any(not gone(pid) for pid in pids)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0_within_5s(server_factory: Factory, sig: signal.Signals) -> None:
    srv = server_factory()  # every service running
    assert wait_until(lambda: len(children_named(srv.proc.pid, "iperf3")) == 1, timeout=3)
    with socket.create_connection((srv.host, srv.tcp_echo_port)):  # an open connection too
        start = time.monotonic()
        code = srv.stop(timeout=5, sig=sig)
        took = time.monotonic() - start
    assert code == 0, srv.log()[-2000:]
    assert took < 5
    assert "stopped" in srv.log()


@pytest.mark.parametrize(
    ("content", "reason"), [(None, "No such file or directory"), (b" \n", "empty")]
)
def test_unusable_hmac_key_file_is_a_config_error(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    """A key file that is missing or empty is a configuration error (exit 2, one line naming
    the key and the file), found before anything starts; it used to be a start failure (1)."""
    key_file = tmp_path / "udp.key"
    if content is not None:
        key_file.write_bytes(content)
    run = _run_with(tmp_path, f"udp_echo: {{port: {free_port()}, hmac_key_file: {key_file}}}\n")
    assert run.returncode == 2, run.stderr
    _one_clear_message(run.stderr, "udp_echo.hmac_key_file", str(key_file), reason)


def test_hmac_key_file_of_a_disabled_udp_echo_is_not_read(tmp_path: Path) -> None:
    run = _run_with(tmp_path, f"udp_echo: {{port: 0, hmac_key_file: {tmp_path / 'nope'}}}\n")
    assert run.returncode == 2 and "no service enabled" in run.stderr, run.stderr


def test_no_service_enabled_exits_2(tmp_path: Path) -> None:
    run = _run_with(tmp_path)
    assert run.returncode == 2, run.stderr
    assert "no service enabled" in run.stderr and "Traceback" not in run.stderr
