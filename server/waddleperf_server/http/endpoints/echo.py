"""``/echo`` (the request as the server saw it, or N bytes after a delay) and ``/ip``."""

from __future__ import annotations

import gevent
from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import Rule

from waddleperf_server.http import params
from waddleperf_server.http.replies import byte_response
from waddleperf_server.http.request_body import read_body
from waddleperf_server.http.state import client_ip, state

bp = Blueprint("echo", __name__)

ECHO_ENDPOINT = "echo.echo"


def _any_method_rule(setup: BlueprintSetupState) -> None:
    # Flask's route() always names its methods (GET when none are given); a werkzeug Rule
    # without ``methods`` matches every one, which is what /echo promises: GET, TRACE,
    # PROPFIND or a made-up token alike (gevent's handler has already refused a method that
    # is not an RFC 9110 token). No automatic OPTIONS or 405: the view answers them all.
    setup.app.url_map.add(Rule("/echo", endpoint=ECHO_ENDPOINT))
    setup.app.view_functions[ECHO_ENDPOINT] = echo


bp.record_once(_any_method_rule)


def echo() -> Response:
    """Describe the request (method, path, query, headers, client, body size in bytes), for
    any method.

    ``?size=N`` replies with N streamed bytes instead; ``?delay_ms=N`` waits N ms first
    (server-side delay, for calibrating latency probes).
    """
    cfg = state().config.http
    size = params.bounded_int(request.args, "size", 0, cfg.max_echo_bytes, -1)
    delay_ms = params.bounded_int(request.args, "delay_ms", 0, cfg.max_delay_ms, 0)
    body_bytes = read_body(cfg.max_upload_bytes)
    if delay_ms:
        gevent.sleep(delay_ms / 1000.0)
    if size >= 0:
        return byte_response(size, {"Cache-Control": "no-store"})
    client, forwarded = client_ip()
    resp = jsonify(
        {
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(flat=False),
            "headers": dict(request.headers.items()),
            "client": client,
            "peer": request.environ.get("REMOTE_ADDR", ""),
            "forwarded": forwarded,
            "body_bytes": body_bytes,
            "delay_ms": delay_ms,
        }
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/ip", methods=["GET", "HEAD"])
def ip() -> Response:
    """The client's address as the server sees it (X-Forwarded-For only from trusted proxies)."""
    client, forwarded = client_ip()
    version = 6 if ":" in client else 4
    resp = jsonify(
        {
            "ip": client,
            "version": version,
            "peer": request.environ.get("REMOTE_ADDR", ""),
            "forwarded": forwarded,
        }
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp
