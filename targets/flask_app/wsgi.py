"""WSGI entry point for gunicorn: ``targets.flask_app.wsgi:app``."""

from __future__ import annotations

from targets.flask_app.app import create_app

app = create_app()
