"""Reading a request body within its limit, the one rule the Flask views and the fast path
follow; a refused or failed body becomes a ``BodyError`` carrying its reply."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from werkzeug.sansio.utils import get_content_length

from waddleperf_server.http import bodies
from waddleperf_server.http.replies import json_error

# The handler (http/server.py) reads this to skip discarding the rest of a refused body and
# to close the connection instead.
ABANDON_KEY = "waddleperf.abandon_body"
# The fast path (fastpath.py) drains empty.php bodies itself; when that fails it hands the
# request to Flask with the error here, so the error reply is Flask's own, header for header.
PENDING_BODY_ERROR_KEY = "waddleperf.pending_body_error"


class BodyError(Exception):
    """Reading the request body failed or was refused; carries the reply to send."""

    def __init__(self, status: int, message: str, close: bool) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close

    def response(self) -> Response:
        """The JSON reply; with ``Connection: close`` when the body was not fully read."""
        resp = json_error(self.status, self.message)
        if self.close:
            resp.headers["Connection"] = "close"
        return resp


def read_body(limit: int) -> int:
    """Drain the request body without keeping it; return its size in bytes.

    Raises BodyError(413) beyond ``limit``. A declared length far beyond the limit is
    refused without reading; a smaller excess is read and discarded so a keep-alive
    client can send its next request on the same connection.
    """
    pending: BaseException | None = request.environ.pop(PENDING_BODY_ERROR_KEY, None)
    if pending is not None:
        raise pending
    return drain_environ_body(request.environ, limit)


def drain_environ_body(environ: dict[str, Any], limit: int) -> int:
    """``read_body`` on a bare WSGI environ (no Flask): the one rule both paths follow."""
    declared = get_content_length(
        environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
    )
    waiting = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
    # A client waiting for "100 Continue" has not sent the body yet: refuse before inviting
    # it. Otherwise only a declared size far beyond the limit is refused unread.
    if declared is not None and declared > limit + (0 if waiting else bodies.DISCARD_BUDGET_BYTES):
        environ[ABANDON_KEY] = True
        raise BodyError(413, _too_large(limit, declared), close=True)
    try:
        result = bodies.drain(environ["wsgi.input"], limit)
    except TimeoutError:
        environ[ABANDON_KEY] = True
        raise BodyError(408, "request body stalled; connection closed", close=True) from None
    except OSError as exc:  # includes gevent's malformed-chunk error
        environ[ABANDON_KEY] = True
        raise BodyError(400, f"cannot read request body: {exc}", close=True) from None
    if not result.complete:
        environ[ABANDON_KEY] = True
    if result.over_limit:
        raise BodyError(413, _too_large(limit, declared), close=not result.complete)
    return result.received_bytes


def _too_large(limit: int, declared: int | None) -> str:
    size = f" ({declared} bytes declared)" if declared is not None else ""
    return f"request body larger than the limit of {limit} bytes{size}"
