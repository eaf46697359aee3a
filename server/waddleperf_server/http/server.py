"""The HTTP service: the Flask app on gevent's WSGI server, hardened against slow, idle,
greedy and malformed clients.

A new connection is judged at the door, before it takes anything (pool.py): over its
source's cap it gets 429, with a full pool and nobody fair to shed it gets 503 — both answered
by a greenlet outside the pool, lingering briefly only while fewer than
``http.max_lingering_refusals`` do. An admitted connection is read by handler.py; a sweeper
closes waiting connections past their deadline while the pool is under pressure.
"""

from __future__ import annotations

import functools
import logging
import socket
import time
from typing import Any

import gevent
from gevent.pywsgi import LoggingLogAdapter, WSGIServer

from waddleperf_server import logs
from waddleperf_server.config import ServerConfig
from waddleperf_server.http import capacity, rawreply
from waddleperf_server.http.app import create_app
from waddleperf_server.http.fastpath import FastPath
from waddleperf_server.http.handler import LINGER_BYTES, Handler
from waddleperf_server.http.pool import (
    PRESSURE_START,
    ConnectionPool,
    Phase,
    ReceiveRules,
    Slot,
    Verdict,
)
from waddleperf_server.http.state import STATE_KEY
from waddleperf_server.http.tally import RequestTally
from waddleperf_server.net import sockets
from waddleperf_server.net.conncap import SourceCounter, source_key
from waddleperf_server.net.ratelimit import LogThrottle
from waddleperf_server.runtime import Runtime

log = logs.get("http")

LOG_INTERVAL_S = 10.0
REFUSE_LINGER_S = 0.2  # after a 429/503, read what the client already sent this long at most
REFUSE_WRITE_TIMEOUT_S = 1.0
SWEEP_INTERVAL_S = 0.25
MAX_ACCEPT = 1000  # how often waiting connections are checked while under pressure


@functools.lru_cache(maxsize=4096)
def _source_of_host(host: str) -> str:
    return source_key((host, 0))


def _source(address: Any) -> str:
    """``source_key`` of a peer, remembered per host (a flood repeats a few hosts)."""
    try:
        return _source_of_host(str(address[0]))
    except (TypeError, IndexError):
        return source_key(address)


class _Server(WSGIServer):  # type: ignore[misc]
    handler_class = Handler
    max_accept = MAX_ACCEPT

    def __init__(
        self,
        *args: Any,
        pool: ConnectionPool,
        request_timeout_s: float,
        max_head_bytes: int,
        max_lingering_refusals: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.conn_pool = pool
        self.request_timeout_s = request_timeout_s
        self.max_head_bytes = max_head_bytes
        self.max_lingering = max_lingering_refusals
        self.lingering = 0
        self.source_rejected = 0
        self.head_timeouts = 0
        self.swept = 0
        self.draining = False
        self.live: dict[Any, Slot] = {}  # handler greenlet -> its slot
        self._throttle = LogThrottle(LOG_INTERVAL_S)
        self._sweeper: Any = None

    def start(self) -> None:
        """Start accepting, and the sweeper."""
        super().start()
        self._sweeper = gevent.spawn(self._sweep)

    def do_handle(self, sock: Any, address: Any) -> None:
        """Judge a new connection at the door (runs in the accept callback: never blocks)."""
        key = _source(address)
        verdict, slot, victim = self.conn_pool.admit(key, time.monotonic(), None)
        if victim is not None:
            self._close_slot(victim)
        if slot is None:
            self._refuse(sock, address, key, verdict)
            return
        greenlet = gevent.spawn(self._serve, sock, address, slot)
        slot.token = (greenlet, sock)
        self.live[greenlet] = slot
        # Runs even when the greenlet is killed before it ever ran (a shed newcomer).
        greenlet.rawlink(lambda g: self._ended(g, sock))

    def _serve(self, sock: Any, address: Any, slot: Slot) -> None:
        self.handler_class(sock, address, self, slot).handle()

    def _ended(self, greenlet: Any, sock: Any) -> None:
        slot = self.live.pop(greenlet, None)
        if slot is not None:
            self.conn_pool.release(slot)
        sock.close()

    def _close_slot(self, slot: Slot) -> None:
        """Shed a waiting connection: its slot is free now, its greenlet dies at once."""
        self.conn_pool.release(slot)
        greenlet, _sock = slot.token
        greenlet.kill(block=False)

    def _refuse(self, sock: Any, address: Any, key: str, verdict: Verdict) -> None:
        if verdict is Verdict.REFUSE_SOURCE:
            self.source_rejected += 1
            code = 429
        else:
            code = 503
        suppressed = self._throttle.admit(verdict.value, time.monotonic())
        if suppressed is not None:  # formatted only when it is logged
            if code == 429:
                what = f"{self.conn_pool.sources.count(key)} connections open from that address"
            else:
                what = f"the pool is full ({len(self.conn_pool)}) and nobody may be shed for it"
            more = f" ({suppressed} similar suppressed)" if suppressed else ""
            log.info("refused %s: %s%s", sockets.describe(address), what, more)
        calm = self.conn_pool.occupancy <= PRESSURE_START
        if calm and self.lingering < self.max_lingering:
            self.lingering += 1
            gevent.spawn(self._answer_refused, sock, code)
            return
        # Too many lingering already (a flood), or the pool under pressure: answer if the
        # socket takes it at once and close, here in the accept callback — no greenlet, no wait.
        try:
            sock.settimeout(0.0)
            sock.send(rawreply.raw_response(code))
        except OSError:
            pass
        finally:
            sock.close()

    def _answer_refused(self, sock: Any, code: int) -> None:
        """Answer 429/503 in JSON and close: half-close, then read for at most
        REFUSE_LINGER_S what the client already sent (closing with unread data would reset
        the connection and could destroy the reply before the client reads it)."""
        try:
            sock.settimeout(REFUSE_WRITE_TIMEOUT_S)
            sock.sendall(rawreply.raw_response(code))
            sock.shutdown(socket.SHUT_WR)
            sockets.discard_incoming(sock, REFUSE_LINGER_S, LINGER_BYTES)
        except OSError:
            pass
        finally:
            self.lingering -= 1
            sock.close()

    def note_bad_request(self, address: Any, status: int, message: str) -> None:
        """One (throttled) log line for a refused request head."""
        self._throttle.log(
            log, "framing", time.monotonic(), "bad request client=%s status=%d error=%s",
            sockets.describe(address), status, message,
        )  # fmt: skip

    def _sweep(self) -> None:
        pool = self.conn_pool
        while True:
            gevent.sleep(SWEEP_INTERVAL_S)
            if pool.occupancy <= PRESSURE_START:
                continue
            for slot in list(pool.overdue(time.monotonic())):
                self.swept += 1
                self._close_slot(slot)

    def shutdown(self, timeout: float) -> None:
        """Stop accepting, drop waiting connections now, give busy ones ``timeout``."""
        self.draining = True
        self.close()
        if self._sweeper is not None:
            self._sweeper.kill(block=False)
        for slot in list(self.live.values()):
            if slot.phase is not Phase.WORKING:
                self._close_slot(slot)
        gevent.joinall(list(self.live), timeout=timeout)
        gevent.killall(list(self.live), block=True, timeout=1)


class HttpService:
    """HTTP echo, LibreSpeed backend, responsiveness endpoints, /health and /stats."""

    name = "http"

    def __init__(self, config: ServerConfig, runtime: Runtime) -> None:
        self._config = config
        self._runtime = runtime
        self._server: _Server | None = None
        self._app: Any = None
        self._state = "stopped"
        self._port = config.http.port
        self._capacity = 0
        self._tally: RequestTally | None = None

    def start(self) -> None:
        """Bind config.bind:http.port (``::`` serves IPv4 too) and serve in the background.

        Raises OSError when the port cannot be had.
        """
        cfg = self._config.http
        fd_limit = capacity.raise_fd_limit()
        self._capacity = capacity.pool_capacity(cfg, fd_limit)
        sock = sockets.bind_socket(
            self._config.bind, cfg.port, socket.SOCK_STREAM, backlog=sockets.LISTEN_BACKLOG
        )
        self._port = int(sock.getsockname()[1])
        rules = ReceiveRules(
            max_wait_s=cfg.request_timeout_s,
            head_timeout_s=cfg.head_timeout_s,
            head_timeout_min_s=cfg.head_timeout_min_s,
            min_receive_bytes_per_s=cfg.min_receive_bytes_per_s,
        )
        pool = ConnectionPool(self._capacity, SourceCounter(cfg.max_connections_per_source), rules)
        self._app = create_app(self._config, self._runtime)
        # empty.php (every HTTP ping, every upload) and /rpm/small skip Flask; the rest
        # goes through it.
        app_state = self._app.extensions[STATE_KEY]
        self._tally = app_state.requests
        wsgi = FastPath(
            self._app, cfg.max_upload_bytes, cfg.cors_always, app_state.random, self._tally
        )
        self._server = _Server(
            sock,
            wsgi,
            log=None,  # one DEBUG line per request comes from the app instead
            error_log=LoggingLogAdapter(log, logging.WARNING),
            # Fixed, so gevent does not resolve the bind address's name at start-up.
            environ={"SERVER_NAME": self._config.bind, "SERVER_PORT": str(self._port)},
            pool=pool,
            request_timeout_s=cfg.request_timeout_s,
            max_head_bytes=cfg.max_request_head_bytes,
            max_lingering_refusals=cfg.max_lingering_refusals,
        )
        try:
            self._server.start()
        except OSError:
            self._state = "failed"
            sock.close()
            raise
        log.info("connection pool capacity=%d fd_limit=%d", self._capacity, fd_limit)
        self._state = "running"

    def stop(self, timeout: float) -> None:
        """Stop accepting, give open requests ``timeout`` seconds, then close them."""
        if self._server is not None:
            self._server.shutdown(timeout)
            self._server = None
        if self._app is not None:
            self._app.extensions[STATE_KEY].geo.close()
            self._app = None
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        """``{"state", "port", "connections", "max_connections", "max_connections_per_source",
        "sources", "source_rejected", "shed", "pool_full_rejected", "head_timeouts",
        "lingering_refusals", "requests"}``: counts since start (``requests``: replies by
        endpoint, then status)."""
        server = self._server
        pool = server.conn_pool if server is not None else None
        return {
            "state": self._state,
            "port": self._port,
            "connections": len(pool) if pool is not None else 0,
            "max_connections": self._capacity,
            "max_connections_per_source": self._config.http.max_connections_per_source,
            "sources": len(pool.sources) if pool is not None else 0,
            "source_rejected": server.source_rejected if server is not None else 0,
            "shed": pool.shed + server.swept if server is not None and pool is not None else 0,
            "pool_full_rejected": pool.refused_full if pool is not None else 0,
            "head_timeouts": server.head_timeouts if server is not None else 0,
            "lingering_refusals": server.lingering if server is not None else 0,
            "requests": self._tally.as_status() if self._tally is not None else {},
        }
