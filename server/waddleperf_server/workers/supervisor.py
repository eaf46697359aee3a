"""The HTTP service as ``http.workers`` processes, one listening socket each, supervised.

The supervisor (the server's main process) binds the port's sockets as one SO_REUSEPORT
group and attaches the source-steering program (``net/steer.py``), so every connection of a
source (an IPv4 address, an IPv6 /64) reaches the same worker and the per-source caps each
worker counts are exact. It keeps every socket open for the server's life: a worker that
dies leaves its socket — and the connections queued on it — in place, and its successor,
started after a backoff, serves them. Each worker gets ``http.max_connections`` divided by
the number of workers, so the pool bound stays the configured one.

``status()`` asks every worker for its HTTP status and sums them (``workers/aggregate.py``);
a worker answering ``/health`` asks the supervisor for every service's state the same way,
over its channel (``workers/channel.py``), so ``/health`` is the whole server's wherever it
lands.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent import subprocess
from gevent.event import Event

from waddleperf_server import logs
from waddleperf_server.config import HttpConfig, ServerConfig
from waddleperf_server.net import sockets, steer
from waddleperf_server.runtime import Runtime
from waddleperf_server.workers.aggregate import merge
from waddleperf_server.workers.channel import Channel, ChannelError
from waddleperf_server.workers.spawn import exec_worker, fork_worker

READY_TIMEOUT_S = 60.0  # a fresh interpreter importing Flask on a loaded machine
STATUS_TIMEOUT_S = 1.0
BACKOFF_S = 0.5
BACKOFF_CAP_S = 10.0
STABLE_S = 30.0  # a worker that ran this long resets the backoff
KILL_WAIT_S = 1.0
#: Settings each worker repeats in its status; not summed.
SAME_KEYS = (set(HttpConfig.model_fields) - {"max_connections", "pool_memory_fraction"}) | {
    "port",
    "state",
}


def worker_count(cfg: HttpConfig) -> int:
    """``http.workers``, or one per CPU this process may run on when it is null."""
    if cfg.workers is not None:
        return cfg.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_config(config: ServerConfig, workers: int) -> ServerConfig:
    """The configuration one worker runs with: its share of the pool — of
    ``http.max_connections`` when it is set, else of ``http.pool_memory_fraction`` (each
    worker sizes its own pool from the memory it may take)."""
    cfg = config.http
    if cfg.max_connections is None:
        update: dict[str, float | int] = {
            "pool_memory_fraction": cfg.pool_memory_fraction / workers
        }
    else:
        update = {"max_connections": math.ceil(cfg.max_connections / workers)}
    http = cfg.model_copy(update=update)
    return config.model_copy(update={"http": http})


class _Worker:
    """One worker slot: its socket (kept by the supervisor), process and channel."""

    def __init__(self, index: int, listener: Any) -> None:
        self.index = index
        self.listener = listener
        self.proc: Any = None
        self.channel: Channel | None = None
        self.parent_end: socket.socket | None = None
        self.ready = Event()
        self.started = 0.0


class HttpWorkers:
    """The HTTP service as worker processes (see the module docstring)."""

    name = "http"

    def __init__(self, config: ServerConfig, runtime: Runtime, workers: int) -> None:
        self._config = config
        self._runtime = runtime
        self._count = workers
        self._child_config = worker_config(config, workers)
        self._child_json = self._child_config.model_dump_json()
        # Channel ends made but not yet opened: a worker forked meanwhile must close them.
        self._pending_ends: list[socket.socket] = []
        self._log = logs.get("workers")
        self._workers: list[_Worker] = []
        self._stopping = False
        self._state = "stopped"
        self._port = config.http.port
        self.restarts = 0

    def start(self) -> None:
        """Bind the port's sockets, steer them by source, start every worker and wait until
        each serves. OSError when the port cannot be had or a worker fails to start."""
        cfg = self._config.http
        backlog = sockets.LISTEN_BACKLOG
        listeners = sockets.reuseport_listeners(self._config.bind, cfg.port, self._count, backlog)
        self._port = int(listeners[0].getsockname()[1])
        try:
            steer.attach(listeners[0], self._count)
        except OSError as exc:
            for sock in listeners:
                sock.close()
            raise OSError(
                exc.errno,
                f"cannot steer connections by source ({exc.strerror}); set http.workers: 1",
            ) from None
        self._workers = [_Worker(i, sock) for i, sock in enumerate(listeners)]
        try:
            # Every worker forked before any channel greenlet exists in this process.
            for worker in self._workers:
                self._spawn(worker, fork=True)
            for worker in self._workers:
                self._open_channel(worker)
            deadline = time.monotonic() + READY_TIMEOUT_S
            for worker in self._workers:
                if not self._wait_ready(worker, deadline):
                    code = worker.proc.poll()
                    raise OSError(f"HTTP worker {worker.index} did not start (exit {code})")
        except OSError:
            self._state = "failed"
            self.stop(KILL_WAIT_S)
            raise
        self._state = "running"
        for worker in self._workers:
            gevent.spawn(self._supervise, worker)
        self._log.info("HTTP served by %d worker processes, steered by source", self._count)

    def stop(self, timeout: float) -> None:
        """Stop every worker (SIGTERM, SIGKILL after ``timeout`` s) and close the sockets."""
        self._stopping = True
        deadline = time.monotonic() + max(0.1, timeout - KILL_WAIT_S)
        procs = [w.proc for w in self._workers if w.proc is not None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=KILL_WAIT_S)
        for worker in self._workers:
            if worker.channel is not None:
                worker.channel.close()
            worker.listener.close()
        self._workers = []
        if self._state != "failed":
            self._state = "stopped"

    def status(self) -> dict[str, Any]:
        """The workers' HTTP statuses summed, with ``workers``, ``workers_running`` and
        ``worker_restarts``; a worker that does not answer within 1 s is left out."""
        answers = gevent.joinall(
            [gevent.spawn(self._ask_status, w) for w in self._workers], timeout=STATUS_TIMEOUT_S
        )
        statuses = [g.value for g in answers if isinstance(g.value, dict)]
        merged = merge(statuses, SAME_KEYS)
        merged.update(state=self._state, port=self._port)
        merged.update(
            workers=self._count, workers_running=len(statuses), worker_restarts=self.restarts
        )
        return merged

    def _ask_status(self, worker: _Worker) -> Any:
        if worker.channel is None or not worker.ready.is_set():
            return None
        try:
            return worker.channel.ask("http_status", STATUS_TIMEOUT_S)
        except ChannelError:
            return None

    def _spawn(self, worker: _Worker, fork: bool) -> None:
        parent_end, child_end = socket.socketpair()
        args = {
            "index": worker.index,
            "listen_fd": worker.listener.fileno(),
            "channel_fd": child_end.fileno(),
            "supervisor_pid": os.getpid(),
            "started": self._runtime.started_monotonic,
        }
        worker.ready.clear()
        try:
            if fork:
                others = [w.listener for w in self._workers if w is not worker]
                worker.proc = fork_worker(
                    self._child_config, args, (args["listen_fd"], args["channel_fd"]),
                    [*others, parent_end, *self._pending_ends],
                )  # fmt: skip
            else:
                worker.proc = exec_worker(self._child_json, args)
        except OSError:
            parent_end.close()
            raise
        finally:
            child_end.close()
        worker.started = time.monotonic()
        self._pending_ends.append(parent_end)
        worker.parent_end = parent_end

    def _open_channel(self, worker: _Worker) -> None:
        end = worker.parent_end
        assert end is not None
        if end in self._pending_ends:
            self._pending_ends.remove(end)
        worker.channel = Channel(
            gsocket.socket(fileno=end.detach()),
            {"ready": worker.ready.set, "states": self._runtime.service_states},
        ).start()

    def _wait_ready(self, worker: _Worker, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if worker.ready.wait(timeout=0.1):
                return True
            if worker.proc.poll() is not None:
                return False
        return False

    def _supervise(self, worker: _Worker) -> None:
        backoff = BACKOFF_S
        while not self._stopping:
            code = worker.proc.wait()
            if self._stopping:
                return
            ran = time.monotonic() - worker.started
            if ran >= STABLE_S:
                backoff = BACKOFF_S
            self.restarts += 1
            self._log.warning(
                "HTTP worker %d pid=%d exited code=%s after %.1fs; restart #%d in %.1fs",
                worker.index, worker.proc.pid, code, ran, self.restarts, backoff,
            )  # fmt: skip
            if worker.channel is not None:
                worker.channel.close()
            gevent.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP_S)
            if self._stopping:
                return
            try:
                self._spawn(worker, fork=False)
                self._open_channel(worker)
            except OSError as exc:
                self._log.error("cannot restart HTTP worker %d: %s", worker.index, exc)
                continue
            if self._wait_ready(worker, time.monotonic() + READY_TIMEOUT_S):
                self._log.info("HTTP worker %d restarted pid=%d", worker.index, worker.proc.pid)
