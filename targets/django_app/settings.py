"""Django settings of the target, all from the environment (see targets.common.config)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from targets.common.config import apm_enabled, db_config, honeybadger_settings, pin_honeybadger_env

# No secret in code: DJANGO_SECRET_KEY, or a random key per process (the app keeps no sessions,
# so workers disagreeing on it costs nothing).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],::1").split(",")
ROOT_URLCONF = "targets.django_app.urls"
WSGI_APPLICATION = "targets.django_app.wsgi.application"
INSTALLED_APPS = ["targets.django_app.apps.TargetConfig"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = ["targets.django_app.middleware.JsonErrorMiddleware"]
APM_ENABLED = apm_enabled()
if APM_ENABLED:
    pin_honeybadger_env()
    HONEYBADGER = {k.upper(): v for k, v in honeybadger_settings().items()}
    # Outermost after the JSON error middleware so it sees the exception before we answer it.
    MIDDLEWARE.append("honeybadger.contrib.DjangoHoneybadgerMiddleware")

_db = db_config(default_name="django_target")
DATABASES: dict[str, dict[str, Any]]
if _db.engine == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _db.name,
            # WAL and a long busy timeout let several gunicorn workers write one file under load
            "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
else:
    import pymysql  # type: ignore[import-untyped]

    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _db.name,
            "HOST": _db.host,
            "PORT": _db.port,
            "USER": _db.user,
            "PASSWORD": _db.password,
            "CONN_MAX_AGE": 60,
            "OPTIONS": {"connect_timeout": 5},
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"waddleperf.target": {"handlers": ["stderr"], "level": "INFO"}},
}
