"""One HTTP worker process: ``python -m waddleperf_server.workers.child ARGS < config.json``.

Forked by the supervisor at start-up (``workers/spawn.py``), or started afresh with the
validated configuration as JSON on stdin for a restart; either way its listening socket (one
of the port's reuseport group) and its end of a channel are inherited file descriptors. It
serves the HTTP service on that socket until SIGTERM, or until the supervisor goes away
(channel closed; the kernel's parent-death signal covers a supervisor killed outright).
``/health`` asks the supervisor for every service's state; ``/stats`` reports the
supervisor's whole process tree.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waddleperf_server.config import ServerConfig

#: Seconds a stopping worker gives requests in flight (within the server's 5 s budget).
STOP_BUDGET_S = 2.5
#: How long /health waits for the supervisor's view before answering with its own.
STATES_TIMEOUT_S = 2.0


def _args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="waddleperf_server.workers.child")
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--listen-fd", type=int, required=True)
    ap.add_argument("--channel-fd", type=int, required=True)
    ap.add_argument("--supervisor-pid", type=int, required=True)
    ap.add_argument("--started", type=float, required=True, help="supervisor's monotonic start")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    """The entry of a fresh worker interpreter: the configuration from stdin, then serve."""
    from gevent import monkey

    monkey.patch_all()  # before the server's modules load, as the command does
    from waddleperf_server.config import ServerConfig

    args = _args(argv)
    config = ServerConfig.model_validate_json(sys.stdin.buffer.read())
    return serve_worker(config, **vars(args))


def serve_worker(
    config: ServerConfig,
    index: int,
    listen_fd: int,
    channel_fd: int,
    supervisor_pid: int,
    started: float,
) -> int:
    """Serve HTTP on the inherited ``listen_fd`` as worker ``index`` until SIGTERM or until
    the supervisor's channel (``channel_fd``) closes; the exit code."""
    import gevent
    from gevent import socket as gsocket
    from gevent.event import Event

    from waddleperf_server import logs
    from waddleperf_server.http.server import HttpService
    from waddleperf_server.net import sockets
    from waddleperf_server.runtime import Runtime
    from waddleperf_server.workers.channel import Channel, ChannelError

    logs.setup(config.log_level)
    log = logs.get("worker")
    sockets.inherit(config.bind, config.http.port, gsocket.SOCK_STREAM, listen_fd)
    stop = Event()
    channel: Channel | None = None

    def states() -> dict[str, dict[str, Any]]:
        try:
            assert channel is not None
            answer: dict[str, dict[str, Any]] = channel.ask("states", STATES_TIMEOUT_S)
            return answer
        except ChannelError:  # the supervisor is stopping or gone: what this worker knows
            return {"http": service.status()}

    runtime = Runtime(
        config=config,
        server_pid=supervisor_pid,
        started_monotonic=started,
        states_provider=states,
    )
    service = HttpService(config, runtime)
    runtime.services.append(service)
    chan_sock = gsocket.socket(fileno=channel_fd)
    channel = Channel(chan_sock, {"http_status": service.status}, on_close=stop.set).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    try:
        service.start()
    except OSError as exc:
        log.error("worker %d cannot serve: %s", index, exc)
        return 1
    try:
        channel.notify("ready")
    except ChannelError:
        stop.set()
    while not stop.wait(timeout=1.0):
        pass
    service.stop(timeout=STOP_BUDGET_S)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
