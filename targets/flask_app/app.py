"""The Flask target application (``create_app``); gunicorn serves ``targets.flask_app.wsgi:app``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import InternalServerError

from targets.common import api
from targets.common.config import apm_enabled, honeybadger_settings, pin_honeybadger_env
from targets.flask_app import db, tasks

log = logging.getLogger("waddleperf.target.flask")


def _install_apm(app: Flask) -> dict[str, Any]:
    if not apm_enabled():
        return {"status": "disabled"}
    pin_honeybadger_env()
    from honeybadger.contrib import FlaskHoneybadger  # type: ignore[import-untyped]

    for key, value in honeybadger_settings().items():
        app.config[f"HONEYBADGER_{key.upper()}"] = value
    FlaskHoneybadger(app, report_exceptions=True)
    return {"status": "ok", "agent": "honeybadger", "endpoint": "loopback only"}


def create_app() -> Flask:
    """The app with its routes, error handler and optional APM instrumentation."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # same key order as Django's
    apm = _install_apm(app)

    @app.get("/")
    def index() -> Response:
        return Response(api.index_html("flask"), mimetype="text/html")

    @app.get("/api/data/")
    def data() -> Any:
        page = api.parse_page(request.args)
        rows, count = db.fetch_page(page)
        return jsonify(api.page_payload(rows, count, page))

    @app.post("/api/task/")
    def task() -> Any:
        task_id, backend = tasks.submit(*api.new_row_values())
        return jsonify(api.task_payload(task_id, backend)), 202

    @app.post("/api/error/")
    def error() -> Any:
        return jsonify({"result": api.trigger_error()})

    @app.get("/api/warmup/")
    def warmup() -> Any:
        components = {"database": db.status(), "task_queue": tasks.status(), "apm": apm}
        return jsonify(api.warmup_payload(components))

    # Registered for 500 (not for ZeroDivisionError) so Flask first logs the exception and
    # sends got_request_exception, which is what APM agents listen to.
    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError) -> Any:
        original = exc.original_exception or exc
        return jsonify(api.error_payload(original)), 500

    return app
