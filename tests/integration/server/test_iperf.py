"""The supervised iperf3 against a real server and real iperf3 clients on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable

import psutil

from tests.support.net import wait_until
from tests.support.sockhelp import children_named, gone
from waddleperf.localstack import LocalServer

Factory = Callable[..., LocalServer]
FAST_RESTART = "iperf: {restart_backoff_s: 0.2}\n"


def _iperf_server(factory: Factory, config: str = FAST_RESTART) -> LocalServer:
    return factory(services=("iperf", "http"), config_yaml=config)


def _status(srv: LocalServer) -> dict[str, object]:
    services = srv.health()["services"]
    assert isinstance(services, dict)
    status: dict[str, object] = services["iperf"]
    return status


def _child(srv: LocalServer) -> psutil.Process:
    kids = children_named(srv.proc.pid, "iperf3")
    assert len(kids) == 1, kids
    return kids[0]


def _listening(pid: int, port: int) -> bool:
    conns = psutil.Process(pid).net_connections(kind="tcp")
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns)


def _client(
    srv: LocalServer, seconds: int, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    argv = ["iperf3", "-c", srv.host, "-p", str(srv.iperf_port), "-J", "-t", str(seconds)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _throughput_bps(run: subprocess.CompletedProcess[str]) -> float:
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    doc = json.loads(run.stdout)
    return float(doc["end"]["sum_received"]["bits_per_second"])


def test_client_run_through_supervised_server(server_factory: Factory) -> None:
    srv = _iperf_server(server_factory)
    assert _throughput_bps(_client(srv, 2)) > 0
    assert "max_duration_enforcement=supervisor" in srv.log()


def test_killed_child_is_restarted(server_factory: Factory) -> None:
    srv = _iperf_server(server_factory)
    first = _child(srv)
    first.kill()
    assert wait_until(lambda: _restarted(srv, first.pid), timeout=5), srv.log()
    assert "exited code=-9" in srv.log()
    status = _status(srv)
    assert status["state"] == "running" and status["restarts"] == 1
    assert status["last_exit"] == -9 and status["pid"] == _child(srv).pid != first.pid
    assert _throughput_bps(_client(srv, 1)) > 0


def _restarted(srv: LocalServer, old_pid: int) -> bool:
    kids = children_named(srv.proc.pid, "iperf3")
    return len(kids) == 1 and kids[0].pid != old_pid and _listening(kids[0].pid, srv.iperf_port)


def test_overlong_test_is_cut_off(server_factory: Factory) -> None:
    srv = _iperf_server(
        server_factory, "iperf: {server_max_duration_s: 2, restart_backoff_s: 0.2}\n"
    )
    start = time.monotonic()
    run = _client(srv, 30, timeout=25)
    took = time.monotonic() - start
    # limit 2 s + supervisor grace 2 s + one 0.5 s poll, plus the client noticing.
    assert 2 <= took < 10, (took, run.stdout[-500:])
    assert "server_max_duration_s=2: killing" in srv.log()
    assert wait_until(lambda: _restarted(srv, -1), timeout=5)
    status = _status(srv)
    assert status["max_duration_kills"] == 1
    assert status["max_duration_enforcement"] == "supervisor"


def test_sigterm_stops_server_and_child_within_5s(server_factory: Factory) -> None:
    srv = _iperf_server(server_factory)
    child = _child(srv)
    start = time.monotonic()
    assert srv.stop(timeout=5, sig=signal.SIGTERM) == 0
    assert time.monotonic() - start < 5
    assert wait_until(lambda: gone(child.pid), timeout=1)


def test_sigkill_of_server_takes_the_child_along(server_factory: Factory) -> None:
    srv = _iperf_server(server_factory)
    child = _child(srv)
    srv.stop(sig=signal.SIGKILL)
    assert wait_until(lambda: gone(child.pid), timeout=3)
