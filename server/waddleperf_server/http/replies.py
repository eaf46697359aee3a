"""Replies every endpoint builds: JSON errors and streamed bytes from the random buffer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from flask import Response, jsonify

from waddleperf_server.http import bodies
from waddleperf_server.http.state import state


def json_error(status: int, message: str, **extra: Any) -> Response:
    """A JSON error reply ``{"error": message, ...}`` with the given status code."""
    resp = jsonify({"error": message, "status": status, **extra})
    resp.status_code = status
    return resp


def byte_response(total: int, headers: dict[str, str] | None = None) -> Response:
    """A streamed ``total``-byte application/octet-stream reply from the random buffer.

    Content-Length is set so clients can time the transfer; nothing is ever materialised.
    """
    # Views, not copies; WSGI servers send any bytes-like object (typed as bytes here).
    body = cast("Iterator[bytes]", bodies.repeat_stream(state().random, total))
    resp = Response(body, mimetype="application/octet-stream", direct_passthrough=True)
    resp.content_length = total
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp
