"""The Flask app: the endpoints (``endpoints/``), JSON errors, one log line a request."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from waddleperf_server import logs
from waddleperf_server.config import ServerConfig
from waddleperf_server.host.geo import GeoLookup
from waddleperf_server.host.stats import ProcessSampler
from waddleperf_server.http import access
from waddleperf_server.http.endpoints import echo, librespeed, metrics, responsiveness, status
from waddleperf_server.http.params import ParamError
from waddleperf_server.http.replies import json_error
from waddleperf_server.http.request_body import BodyError
from waddleperf_server.http.state import STATE_KEY, AppState, state
from waddleperf_server.http.tally import view_name
from waddleperf_server.net import clientaddr
from waddleperf_server.runtime import Runtime

log = logs.get("http")


def create_app(config: ServerConfig, runtime: Runtime) -> Flask:
    """Build the WSGI application serving every HTTP endpoint of the server."""
    app = Flask("waddleperf_server")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep documents in spec order
    app.extensions[STATE_KEY] = AppState(
        config=config,
        runtime=runtime,
        trusted=clientaddr.parse_networks(config.http.trusted_proxies),
        geo=GeoLookup(config.geoip.city_db, config.geoip.asn_db),
        sampler=ProcessSampler(),
        access=access.load(config.operator),
    )
    app.register_blueprint(echo.bp)
    app.register_blueprint(responsiveness.bp)
    app.register_blueprint(librespeed.bp, url_prefix="/backend", name="librespeed_backend")
    app.register_blueprint(librespeed.bp, url_prefix="", name="librespeed_root")
    app.add_url_rule("/health", "health", status.health, methods=["GET"])
    app.add_url_rule("/stats", "stats", status.stats, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics.metrics, methods=["GET"])
    _install_error_handlers(app)
    app.before_request(_start_clock)
    app.after_request(_log_request)
    return app


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        message = {404: f"no such endpoint: {request.path}"}.get(code, exc.description or "")
        if isinstance(exc, MethodNotAllowed):
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            message = f"method {request.method} not allowed on {request.path} (allowed: {allowed})"
            resp = json_error(code, message)
            resp.headers["Allow"] = allowed
            return resp
        return json_error(code, message or exc.name)

    @app.errorhandler(ParamError)
    def _param_error(exc: ParamError) -> Response:
        return json_error(400, exc.message, param=exc.param)

    @app.errorhandler(BodyError)
    def _body_error(exc: BodyError) -> Response:
        return exc.response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The client gets a sentence, the log gets the detail; never a traceback on the wire.
        log.warning(
            "unhandled error method=%s path=%s error=%s: %s",
            request.method,
            logs.printable(request.path),
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(10),
        )
        return json_error(500, "internal server error")


def _start_clock() -> None:
    g.started = time.perf_counter()


def _log_request(resp: Response) -> Response:
    state().requests.add(view_name(request.endpoint), resp.status_code)
    elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    level = 30 if resp.status_code >= 500 else 10
    if log.isEnabledFor(level):
        log.log(
            level,
            "request method=%s path=%s status=%d length=%s client=%s ms=%.1f",
            request.method,
            logs.printable(request.path),
            resp.status_code,
            resp.content_length,
            request.environ.get("REMOTE_ADDR", "-"),
            elapsed_ms,
        )
    return resp
