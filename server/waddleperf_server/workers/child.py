"""One HTTP worker process: ``python -m waddleperf_server.workers.child ARGS < config.json``.

Started by the supervisor (``workers/supervisor.py``) with its listening socket (one of the
port's reuseport group) and its end of a channel as inherited file descriptors, and the
validated configuration as JSON on stdin. It serves the HTTP service on that socket until
SIGTERM, or until the supervisor goes away (channel closed; the kernel's parent-death
signal covers a supervisor killed outright). ``/health`` asks the supervisor for every
service's state; ``/stats`` reports the supervisor's whole process tree.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

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
    """Serve HTTP as worker ``--index`` until told to stop; the exit code."""
    from gevent import monkey

    monkey.patch_all()  # before the server's modules load, as the command does
    import gevent
    from gevent import socket as gsocket
    from gevent.event import Event

    from waddleperf_server import logs
    from waddleperf_server.config import ServerConfig
    from waddleperf_server.http.server import HttpService
    from waddleperf_server.net import sockets
    from waddleperf_server.runtime import Runtime
    from waddleperf_server.workers.channel import Channel, ChannelError

    args = _args(argv)
    config = ServerConfig.model_validate_json(sys.stdin.buffer.read())
    logs.setup(config.log_level)
    log = logs.get("worker")
    sockets.inherit(config.bind, config.http.port, gsocket.SOCK_STREAM, args.listen_fd)
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
        server_pid=args.supervisor_pid,
        started_monotonic=args.started,
        states_provider=states,
    )
    service = HttpService(config, runtime)
    runtime.services.append(service)
    chan_sock = gsocket.socket(fileno=args.channel_fd)
    channel = Channel(chan_sock, {"http_status": service.status}, on_close=stop.set).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, stop.set)
    try:
        service.start()
    except OSError as exc:
        log.error("worker %d cannot serve: %s", args.index, exc)
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
