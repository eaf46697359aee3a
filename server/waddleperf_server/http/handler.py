"""One HTTP connection: gevent's WSGI handler with our own receive side.

The request head is read by :class:`~waddleperf_server.http.stream.Stream` under the pool's
deadlines and parsed by the strict parser (framing.py); the WSGI environ is built from that
parse alone, and the body is :class:`~waddleperf_server.http.body_input.BodyInput`. gevent's
handler still runs the application and writes the reply (status line, headers, chunking).
"""

from __future__ import annotations

import contextlib
import socket
import time
from functools import partial
from typing import Any
from urllib.parse import unquote

from gevent.pywsgi import WSGIHandler

from waddleperf_server import logs
from waddleperf_server.http import bodies, rawreply
from waddleperf_server.http.body_input import BodyInput
from waddleperf_server.http.framing import FramingError, Head
from waddleperf_server.http.pool import PRESSURE_START, Phase, Slot
from waddleperf_server.http.stream import HeadTimeout, Stream
from waddleperf_server.net import sockets

log = logs.get("http")

LINGER_S = 2.0  # after refusing a body, read (and drop) what is in flight this long
LINGER_BYTES = bodies.DISCARD_BUDGET_BYTES
ERROR_LINGER_S = 0.2  # after a refused head, read what the client already sent this long

_unquote_latin1 = partial(unquote, encoding="latin-1")


class Handler(WSGIHandler):  # type: ignore[misc]
    """Per-connection handler: the strict head, the environ, the body, keep-alive."""

    def __init__(self, sock: Any, address: Any, server: Any, slot: Slot) -> None:
        # Not gevent's __init__: no buffered file over the socket, the Stream reads instead.
        self.socket = sock
        self.client_address = address
        self.server = server
        self.slot = slot
        self.stream = Stream(sock, server.conn_pool, server.request_timeout_s)
        self.head: Head | None = None

    def handle(self) -> None:
        """Serve requests on this connection until it closes (keep-alive)."""
        sock = self.socket
        # gevent sends the head and the body in two writes; with Nagle's algorithm and the
        # client's delayed ACK every small reply would then take ~40 ms.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while self.handle_one_request():
                pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            self.__dict__.pop("socket", None)
            self.__dict__.pop("wsgi_input", None)

    def handle_one_request(self) -> bool:
        """Read one request and answer it; False when the connection is to close."""
        server = self.server
        if server.draining:
            return False
        slot = self.slot
        try:
            head = self.stream.read_head(slot, server.max_head_bytes)
        except FramingError as exc:
            server.note_bad_request(self.client_address, exc.status, exc.message)
            self._refuse(exc.status, exc.message)
            return False
        except HeadTimeout as exc:
            server.head_timeouts += 1
            if exc.partial:
                # Under pressure a late head is most likely a trickler: the 408 is sent
                # but not lingered over (that would hold the slot for ERROR_LINGER_S more).
                linger = server.conn_pool.occupancy <= PRESSURE_START
                self._refuse(408, rawreply.MESSAGES[408], linger)
            return False
        except OSError:  # reset, or the client went away
            return False
        if head is None:
            return False
        server.conn_pool.working(slot)
        sock = self.socket
        sock.settimeout(server.request_timeout_s)  # every write waits at most this long
        self.head = head
        self.command = head.method
        self.path = head.path
        self.request_version = head.version
        self.requestline = f"{head.method} {head.path} {head.version}"
        self.close_connection = not head.keep_alive
        self.response_length = 0
        self.environ = self.get_environ()
        self.application = server.application
        self.handle_one_response()
        if self.close_connection or server.draining or self.socket is None:
            return False
        server.conn_pool.waiting(slot, Phase.IDLE, time.monotonic())
        return True

    def get_environ(self) -> dict[str, Any]:
        """The WSGI environ of the parsed head (names with ``_`` are dropped, as gevent does,
        so ``X_Forwarded_For`` cannot pose as ``X-Forwarded-For``)."""
        head = self.head
        assert head is not None
        env: dict[str, Any] = self.server.get_environ()
        path, _, query = head.path.partition("?")
        env["REQUEST_METHOD"] = head.method
        env["SCRIPT_NAME"] = ""
        env["PATH_INFO"] = _unquote_latin1(path)
        env["QUERY_STRING"] = query
        env["SERVER_PROTOCOL"] = head.version
        address = self.client_address
        if isinstance(address, tuple):
            env["REMOTE_ADDR"] = str(address[0])
            env["REMOTE_PORT"] = str(address[1])
        for name, value in head.fields:
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                env.setdefault(key, value)
                continue
            key = "HTTP_" + key
            if key in env:
                env[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
            else:
                env[key] = value
        if head.authority is not None:  # an absolute-form target names the host (RFC 9112 §3.2.2)
            env["HTTP_HOST"] = head.authority
        continue_sock = self.socket if head.expect_continue and head.version == "HTTP/1.1" else None
        body = BodyInput(self.stream, head.content_length, head.chunked, continue_sock)
        body.environ = env
        self.wsgi_input = body
        env["wsgi.input"] = body
        env["wsgi.input_terminated"] = True
        return env

    def handle_one_response(self) -> None:
        """gevent's: run the app, discard the unread body; then close what must close."""
        super().handle_one_response()
        if self.server.draining:
            self.close_connection = True
        body = self.wsgi_input
        if isinstance(body, BodyInput) and body.abandoned:
            self.close_connection = True
            self._linger(LINGER_S, LINGER_BYTES)

    def log_request(self) -> None:
        """Nothing: the app logs one DEBUG line per request (gevent's line costs per request)."""

    def _refuse(self, code: int, message: str, linger: bool = True) -> None:
        """Answer ``code`` in JSON and close (the head is refused: nothing after it can be
        trusted to be a request); ``linger``: read briefly first what the client sent on."""
        sock = self.socket
        try:
            sock.settimeout(self.server.request_timeout_s)
            sock.sendall(rawreply.raw_response(code, message))
        except OSError:
            return
        if linger:
            self._linger(ERROR_LINGER_S, LINGER_BYTES)

    def _linger(self, seconds: float, max_bytes: int) -> None:
        # Closing with unread data makes the kernel send RST, which can destroy our reply
        # before the client reads it. Half-close, drain briefly, then close.
        sock = self.socket
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        sockets.discard_incoming(sock, seconds, max_bytes)

    def handle_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        """Errors outside Flask (Flask answers its own): mostly a client that stalled or
        vanished mid-response. One log line, never a traceback on stderr."""
        self.close_connection = True
        if issubclass(t, OSError):
            log.debug("connection dropped client=%s error=%s", self.client_address, v)
            return
        log.warning("server error client=%s error=%s: %s", self.client_address, t.__name__, v)
        self._send_error_response_if_possible(500)

    def _send_error_response_if_possible(self, error_code: int) -> None:
        if self.response_length:
            self.close_connection = True
            return
        status, headers, body = rawreply.raw_json_error(
            error_code, rawreply.MESSAGES.get(error_code, "error")
        )
        try:
            self.start_response(status, headers)
            self.write(body)
        except OSError:
            self.close_connection = True
