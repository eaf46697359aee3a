"""The HTTP service: the Flask app on gevent's WSGI server, hardened against slow, idle and
greedy clients (request timeout, bounded connection pool, bounded body discarding)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from typing import Any

import gevent
from gevent.pool import Pool
from gevent.pywsgi import Input, LoggingLogAdapter, WSGIHandler, WSGIServer

from waddleperf_server import logs
from waddleperf_server.config import ServerConfig
from waddleperf_server.http import bodies
from waddleperf_server.http.app import create_app
from waddleperf_server.http.fastpath import FastPath
from waddleperf_server.http.request_body import ABANDON_KEY
from waddleperf_server.http.state import STATE_KEY
from waddleperf_server.net import sockets
from waddleperf_server.net.conncap import SourceCounter, source_key
from waddleperf_server.net.ratelimit import LogThrottle
from waddleperf_server.runtime import Runtime

log = logs.get("http")

LINGER_S = 2.0  # after refusing a body, read (and drop) what is in flight this long
LINGER_BYTES = bodies.DISCARD_BUDGET_BYTES
LOG_INTERVAL_S = 10.0


REFUSE_LINGER_S = 0.2  # after a 429, read what the client already sent this long at most
REFUSE_WRITE_TIMEOUT_S = 1.0

_REASONS = {
    400: "Bad Request",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}
_MESSAGES = {
    400: "malformed HTTP request",
    414: "request line too long",
    429: "too many connections from this address",
    431: "request head too large",
    500: "internal server error",
}


#: An HTTP method: an RFC 9110 token.
_METHOD_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class _HeadTooLarge(ValueError):
    """The request head (request line and headers) is over ``http.max_request_head_bytes``."""


class _BoundedHead:
    """The connection's reader as ``http.client.parse_headers`` sees it: ``readline`` stops
    at a budget of bytes and raises :class:`_HeadTooLarge` past it, so the header block is
    never read beyond the budget (parse_headers alone allows 100 lines of 64 KiB)."""

    def __init__(self, rfile: Any, budget: int) -> None:
        self._rfile = rfile
        self._left = budget

    def readline(self, limit: int = -1) -> bytes:
        want = self._left + 1 if limit < 0 else min(limit, self._left + 1)
        line: bytes = self._rfile.readline(want)
        self._left -= len(line)
        if self._left < 0:
            raise _HeadTooLarge("request head too large")
        return line


def raw_json_error(code: int, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of a JSON error sent by the server itself (not Flask),
    for requests too broken to reach the application; the connection is then closed."""
    body = json.dumps({"error": message, "status": code}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return f"{code} {_REASONS.get(code, 'Error')}", headers, body


def _raw_response(code: int, message: str) -> bytes:
    status, headers, body = raw_json_error(code, message)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body


class _Input(Input):  # type: ignore[misc]
    """gevent's request body with a bounded discard.

    gevent reads whatever the application left unread, without limit, before the next
    request on the connection; a client declaring 10 GiB would hold the handler for 10 GiB.
    Here the discard stops after a budget, or at once when the app refused the body, and
    the connection is then closed instead of reused.
    """

    __slots__ = ("abandoned", "environ")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ: dict[str, Any] | None = None
        self.abandoned = False

    def _discard(self) -> None:
        if self.environ is not None and self.environ.get(ABANDON_KEY):
            self.abandoned = True
            return
        if self._chunked_input_error:
            return
        if not (self.position < (self.content_length or 0) or self.chunked_input):
            return
        remaining = (self.content_length or 0) - self.position
        if remaining > bodies.DISCARD_BUDGET_BYTES or self.socket is not None:
            # Too much left to be worth reading; or "Expect: 100-continue" not yet answered:
            # the client holds the body back, so waiting for it could hang. Close instead.
            self.abandoned = True
            return
        self.send_100_continue_enabled = False  # type: ignore[misc]  # a slot of Input
        try:
            result = bodies.drain(self, limit=0)
        except OSError:
            result = bodies.DrainResult(0, complete=False, over_limit=True)
        if not result.complete:
            self.abandoned = True


class _Handler(WSGIHandler):  # type: ignore[misc]
    """Per-connection handler: idle timeout on the socket, deadlines on the request head."""

    server: _Server

    def handle(self) -> None:
        # Every recv/send waits at most request_timeout_s: idle keep-alive connections and
        # stalled uploads or downloads are dropped instead of pinning a pool slot.
        self.socket.settimeout(self.server.request_timeout_s)
        # gevent sends the head and the body in two writes; with Nagle's algorithm and the
        # client's delayed ACK every small reply would then take ~40 ms, ruining latency
        # probes (LibreSpeed ping, the RPM small object).
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def read_requestline(self) -> str:
        server = self.server
        if server.draining:
            return ""  # shutting down: no new request on this connection
        # While waiting here the connection is idle and may be dropped at shutdown at once.
        server.idle_handlers[self] = gevent.getcurrent()
        try:
            # A request line trickled a byte at a time never trips the idle timeout; this
            # does. TimeoutError is a socket error, which gevent treats as "client went away".
            with gevent.Timeout(server.request_timeout_s, TimeoutError("request line timeout")):
                line: str = super().read_requestline()
                return line
        finally:
            server.idle_handlers.pop(self, None)

    def read_request(self, raw_requestline: str) -> Any:
        # ValueError makes gevent answer 400 and close, without a traceback.
        with gevent.Timeout(self.server.request_timeout_s, ValueError("request head too slow")):
            result = super().read_request(raw_requestline)
        # gevent takes any word as the method; only an RFC 9110 token reaches the app (and
        # its log lines), so /echo can accept every method without echoing junk.
        if not _METHOD_TOKEN.fullmatch(self.command or ""):
            raise ValueError("invalid method")
        return result

    def MessageClass(self, fp: Any, *args: Any) -> Any:  # gevent's name
        # The headers are read through a budget: what is left of max_request_head_bytes
        # after the request line (which gevent holds to 8 KiB on its own).
        budget = self.server.max_head_bytes - len(self.requestline or "")
        return super().MessageClass(_BoundedHead(fp, max(0, budget)), *args)

    def handle_one_request(self) -> Any:
        result = super().handle_one_request()
        if isinstance(result, tuple):
            # gevent refused the request before the app saw it (bad syntax, 414): answer
            # in JSON like every other error, instead of gevent's empty body.
            code = int(result[0])
            return result[0], _raw_response(code, _MESSAGES.get(code, "bad request"))
        return result

    def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes]:
        # gevent would print a traceback for some of these; a bad client is one log line.
        log.info("bad request client=%s error=%s", self.client_address, ex)
        if isinstance(ex, _HeadTooLarge):
            return ("431", b"")
        return ("400", b"")  # body filled in by handle_one_request

    def _send_error_response_if_possible(self, error_code: int) -> None:
        if self.response_length:
            self.close_connection = True
            return
        status, headers, body = raw_json_error(error_code, _MESSAGES.get(error_code, "error"))
        try:
            self.start_response(status, headers)
            self.write(body)
        except OSError:
            self.close_connection = True

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        old: Any = getattr(self, "wsgi_input")  # noqa: B009  # untyped gevent attribute
        new = _Input(
            old.rfile, old.content_length, socket=old.socket, chunked_input=old.chunked_input
        )
        new.environ = env
        self.wsgi_input = new
        if env.get("wsgi.input") is old:
            env["wsgi.input"] = new
        return env

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.server.draining:
            self.close_connection = True
        inp = self.wsgi_input
        if isinstance(inp, _Input) and inp.abandoned:
            self.close_connection = True
            self._linger()

    def _linger(self) -> None:
        # Closing with unread data makes the kernel send RST, which can destroy our reply
        # (the 413) before the client reads it. Half-close, drain briefly, then close.
        sock = self.socket
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        sockets.discard_incoming(sock, LINGER_S, LINGER_BYTES)

    def handle_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        # Errors outside Flask (Flask answers its own): mostly a client that stalled or
        # vanished mid-response. One log line, never a traceback on stderr.
        self.close_connection = True
        if issubclass(t, OSError):
            log.debug("connection dropped client=%s error=%s", self.client_address, v)
            return
        log.warning("server error client=%s error=%s: %s", self.client_address, t.__name__, v)
        self._send_error_response_if_possible(500)


class _Server(WSGIServer):  # type: ignore[misc]
    handler_class = _Handler

    def __init__(
        self,
        *args: Any,
        request_timeout_s: float,
        max_per_source: int,
        max_head_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout_s = request_timeout_s
        self.max_head_bytes = max_head_bytes
        self.sources = SourceCounter(max_per_source)
        self.source_rejected = 0
        self.idle_handlers: dict[_Handler, Any] = {}  # handler -> its greenlet
        self.draining = False
        self._throttle = LogThrottle(LOG_INTERVAL_S)

    def handle(self, sock: Any, address: Any) -> None:
        """Serve one connection, unless its source address already holds its share."""
        key = source_key(address)
        if not self.sources.acquire(key):
            self.source_rejected += 1
            self._throttle.log(
                log,
                "source",
                time.monotonic(),
                "refused %s: %d connections open from that address",
                sockets.describe(address),
                self.sources.count(key),
            )
            _refuse(sock)
            return
        try:
            super().handle(sock, address)
        finally:
            self.sources.release(key)

    def shutdown(self, timeout: float) -> None:
        """Stop accepting, drop idle keep-alive connections now, give busy ones ``timeout``."""
        self.draining = True
        self.close()
        for greenlet in list(self.idle_handlers.values()):
            greenlet.kill(block=False)
        self.stop(timeout=timeout)


def _refuse(sock: Any) -> None:
    """Answer 429 in JSON and close, holding the slot for at most ~0.2 s more: half-close,
    then read what the client already sent (closing with unread data would reset the
    connection and could destroy the reply before the client reads it)."""
    try:
        sock.settimeout(REFUSE_WRITE_TIMEOUT_S)
        sock.sendall(_raw_response(429, _MESSAGES[429]))
        sock.shutdown(socket.SHUT_WR)
        sockets.discard_incoming(sock, REFUSE_LINGER_S, LINGER_BYTES)
    except OSError:
        pass
    finally:
        sock.close()


class HttpService:
    """HTTP echo, LibreSpeed backend, responsiveness endpoints, /health and /stats."""

    name = "http"

    def __init__(self, config: ServerConfig, runtime: Runtime) -> None:
        self._config = config
        self._runtime = runtime
        self._server: _Server | None = None
        self._app: Any = None
        self._pool: Pool | None = None
        self._state = "stopped"
        self._port = config.http.port

    def start(self) -> None:
        """Bind config.bind:http.port (``::`` serves IPv4 too) and serve in the background.

        Raises OSError when the port cannot be had.
        """
        cfg = self._config.http
        sock = sockets.bind_socket(
            self._config.bind, cfg.port, socket.SOCK_STREAM, backlog=min(1024, cfg.max_connections)
        )
        self._port = int(sock.getsockname()[1])
        # A full pool stops accepting: excess clients wait in the listen backlog, so
        # memory and file descriptors stay bounded by max_connections.
        self._pool = Pool(cfg.max_connections)
        self._app = create_app(self._config, self._runtime)
        # empty.php (every HTTP ping, every upload) and /rpm/small skip Flask; the rest
        # goes through it.
        random = self._app.extensions[STATE_KEY].random
        wsgi = FastPath(self._app, cfg.max_upload_bytes, cfg.cors_always, random)
        self._server = _Server(
            sock,
            wsgi,
            spawn=self._pool,
            log=None,  # one DEBUG line per request comes from the app instead
            error_log=LoggingLogAdapter(log, logging.WARNING),
            # Fixed, so gevent does not resolve the bind address's name at start-up.
            environ={"SERVER_NAME": self._config.bind, "SERVER_PORT": str(self._port)},
            request_timeout_s=cfg.request_timeout_s,
            max_per_source=cfg.max_connections_per_source,
            max_head_bytes=cfg.max_request_head_bytes,
        )
        try:
            self._server.start()
        except OSError:
            self._state = "failed"
            sock.close()
            raise
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
        "sources", "source_rejected"}``."""
        server = self._server
        return {
            "state": self._state,
            "port": self._port,
            "connections": len(self._pool) if self._pool is not None else 0,
            "max_connections": self._config.http.max_connections,
            "max_connections_per_source": self._config.http.max_connections_per_source,
            "sources": len(server.sources) if server is not None else 0,
            "source_rejected": server.source_rejected if server is not None else 0,
        }
