"""A WSGI dispatcher in front of the Flask app that answers the hottest endpoints directly.

LibreSpeed's ``empty.php`` is every HTTP ping and every upload of a speed test, and
``/rpm/small`` every round trip of a responsiveness test; Flask's routing, request objects
and after-request hooks cost ~0.2 ms a request there, which would land in every client's
latency figure. The fast path answers their successful requests with the very reply Flask
would send (status, headers in the same order, body, the same DEBUG log line) and drains
empty.php bodies through the same function (``drain_environ_body``), so the limits, the
100-continue refusal and the connection handling are those of the Flask path. Bodies that
``/rpm/small`` does not read are left, as with Flask, to the handler's bounded discard.

Everything else goes to Flask: other paths and methods (404, 405 with ``Allow``), and every
failed body (413, 408, 400, anything unexpected) — those are handed over with the error in
the environ and Flask re-raises it from ``read_body``, so error replies are Flask's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request

from waddleperf_server import logs
from waddleperf_server.http import wire
from waddleperf_server.http.request_body import PENDING_BODY_ERROR_KEY, drain_environ_body
from waddleperf_server.http.tally import RequestTally

log = logs.get("http")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Every route of the Flask ``empty`` view: under ``/backend`` and ``/``, with and without .php.
EMPTY_PATHS = frozenset(
    prefix + name for prefix in ("/backend", "") for name in ("/empty.php", "/empty")
)
#: The view's methods plus HEAD, which werkzeug adds to every GET route.
EMPTY_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})
SMALL_METHODS = frozenset({"GET", "HEAD"})
_DEBUG = 10
#: Tally keys of the fast path's replies (the Flask views' names: ``tally.view_name``).
_EMPTY, _SMALL = ("empty", 200), ("small", 200)


def cors_requested(query_string: str) -> bool:
    """Whether the query has a ``cors`` parameter, exactly as Flask's ``request.args`` sees it.

    The common ping (``?r=0.123``) is decided by a substring test: without ``cors`` literally
    in it and without ``%`` (an encoded name) no decoded name can be ``cors``. Anything else
    is parsed by werkzeug itself, so the two paths cannot disagree.
    """
    if "cors" not in query_string and "%" not in query_string:
        return False
    return "cors" in Request({"QUERY_STRING": query_string}).args


class FastPath:
    """WSGI callable: ``empty.php`` and ``/rpm/small`` answered here, every other request
    passed to ``app``. ``random`` is the app's random buffer (``AppState.random``), ``tally``
    its reply counts (``AppState.requests``)."""

    def __init__(
        self,
        app: WsgiApp,
        max_upload_bytes: int,
        cors_always: bool,
        random: bytes,
        tally: RequestTally | None = None,
    ) -> None:
        self.app = app
        # The counter itself: one dict update a reply, no method call.
        self._counts = (tally or RequestTally()).counts
        self.max_upload_bytes = max_upload_bytes
        self.cors_always = cors_always
        self._small_body = bytes(random[:1])  # byte_response(1) sends the buffer's first byte
        self._small_headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", "1"),
            *wire.NO_STORE.items(),
        ]
        base = [
            ("Content-Type", wire.EMPTY_CONTENT_TYPE),
            ("Content-Length", "0"),
            *wire.NO_CACHE_HEADERS,
        ]
        self._headers = base
        self._cors_headers = [*base, *wire.CORS_HEADERS]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer ``empty.php`` and ``/rpm/small``; hand anything else (and any failed body)
        to Flask."""
        path = environ.get("PATH_INFO")
        method = environ.get("REQUEST_METHOD")
        if path in EMPTY_PATHS and method in EMPTY_METHODS:
            return self._empty(environ, start_response)
        if path == wire.SMALL_PATH and method in SMALL_METHODS:
            return self._small(environ, start_response)
        return self.app(environ, start_response)

    def _small(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        start_response("200 OK", list(self._small_headers))
        self._counts[_SMALL] += 1
        _log(environ, 1, started)
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [self._small_body]

    def _empty(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            drain_environ_body(environ, self.max_upload_bytes)
        except Exception as exc:  # Flask answers it, as it would have
            environ[PENDING_BODY_ERROR_KEY] = exc
            return self.app(environ, start_response)
        cors = self.cors_always or cors_requested(environ.get("QUERY_STRING", ""))
        # A fresh list: gevent may append to it (Date, Connection).
        start_response("200 OK", list(self._cors_headers if cors else self._headers))
        self._counts[_EMPTY] += 1
        _log(environ, 0, started)
        return [b""]


def _log(environ: dict[str, Any], length: int, started: float) -> None:
    # The line app._log_request writes for every Flask reply, word for word.
    if log.isEnabledFor(_DEBUG):
        log.debug(
            "request method=%s path=%s status=%d length=%s client=%s ms=%.1f",
            environ["REQUEST_METHOD"],
            logs.printable(environ["PATH_INFO"]),
            200,
            length,
            environ.get("REMOTE_ADDR", "-"),
            (time.perf_counter() - started) * 1000,
        )
