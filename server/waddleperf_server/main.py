"""The server's composition root: builds the enabled services, runs them, stops them."""

from __future__ import annotations

import signal
import time

import gevent
from gevent.event import Event

from waddleperf_server import logs
from waddleperf_server.config import ServerConfig
from waddleperf_server.echo.tcp import TcpEchoService
from waddleperf_server.echo.udp import UdpEchoService
from waddleperf_server.http.server import HttpService
from waddleperf_server.iperf.supervisor import IperfSupervisor
from waddleperf_server.runtime import Runtime
from waddleperf_server.service import Service
from waddleperf_server.workers.supervisor import HttpWorkers, worker_count

SHUTDOWN_BUDGET_S = 4.0  # SIGTERM → exit must stay under 5 s


def build(config: ServerConfig) -> Runtime:
    """Create (not start) every service whose port is non-zero."""
    runtime = Runtime(config=config)
    if config.http.port:
        workers = worker_count(config.http)
        http: Service = (
            HttpWorkers(config, runtime, workers) if workers > 1 else HttpService(config, runtime)
        )
        runtime.services.append(http)
    if config.tcp_echo.port:
        runtime.services.append(TcpEchoService(config.tcp_echo, config.bind))
    if config.udp_echo.port:
        runtime.services.append(UdpEchoService(config.udp_echo, config.bind))
    if config.iperf.port:
        runtime.services.append(IperfSupervisor(config.iperf, config.bind))
    return runtime


def serve(config: ServerConfig) -> int:
    """Run the server until SIGTERM/SIGINT; return the process exit code."""
    log = logs.get("main")
    runtime = build(config)
    if not runtime.services:
        log.error("no service enabled: every port is 0")
        return 2
    started: list[Service] = []
    try:
        for svc in runtime.services:
            svc.start()
            started.append(svc)
            log.info("started %s port=%s", svc.name, svc.status().get("port"))
    except OSError as exc:
        log.error("cannot start %s: %s", svc.name, exc)
        _stop_all(started)
        return 1
    stop = Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    log.info("ready version=%s bind=%s", runtime.version, config.bind)
    # Waiting in slices keeps the hub alive even if no service had a greenlet of its own.
    while not stop.wait(timeout=1.0):
        pass
    log.info("shutting down")
    _stop_all(started)
    log.info("stopped")
    return 0


def _stop_all(services: list[Service]) -> None:
    deadline = time.monotonic() + SHUTDOWN_BUDGET_S
    for svc in reversed(services):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            svc.stop(timeout=remaining / max(1, len(services)) * 2)
        except Exception as exc:  # a broken stop must not keep the others running
            logs.get("main").error("stopping %s failed: %s", svc.name, exc)
