"""Target configuration from the environment: database, task queue, APM switch.

SQLite by default (``DB_NAME`` is its file); ``DB_ENGINE=mysql`` selects MySQL/MariaDB through
PyMySQL with ``DB_HOST``, ``DB_PORT``, ``DB_USER``, ``DB_PASSWORD``, ``DB_NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Value of WADDLEPERF_APM that turns Honeybadger's instrumentation on.
APM_HONEYBADGER = "honeybadger"
#: Where an instrumented target "reports": the discard port on loopback, so nothing leaves.
APM_LOCAL_ENDPOINT = "http://127.0.0.1:9"


@dataclass(frozen=True)
class DbConfig:
    """Where the TestData table lives."""

    engine: str  # "sqlite" or "mysql"
    name: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = ""
    password: str = ""


def db_config(env: Mapping[str, str] | None = None, default_name: str = "target") -> DbConfig:
    """The database named by DB_* variables; SQLite file ``<default_name>.sqlite3`` otherwise."""
    env = os.environ if env is None else env
    engine = env.get("DB_ENGINE", "sqlite").lower()
    if engine in ("mysql", "mariadb"):
        return DbConfig(
            engine="mysql",
            name=env.get("DB_NAME", "waddleperf"),
            host=env.get("DB_HOST", "127.0.0.1"),
            port=int(env.get("DB_PORT", "3306")),
            user=env.get("DB_USER", "waddleperf"),
            password=env.get("DB_PASSWORD", ""),
        )
    if engine != "sqlite":
        raise ValueError(f"DB_ENGINE must be sqlite or mysql, got {engine!r}")
    return DbConfig(engine="sqlite", name=env.get("DB_NAME", f"{default_name}.sqlite3"))


def broker_url(env: Mapping[str, str] | None = None) -> str | None:
    """Celery's broker when CELERY_BROKER_URL is set; None means the in-process worker."""
    env = os.environ if env is None else env
    return env.get("CELERY_BROKER_URL") or None


def apm_enabled(env: Mapping[str, str] | None = None) -> bool:
    """True when WADDLEPERF_APM=honeybadger: off unless asked for."""
    env = os.environ if env is None else env
    return env.get("WADDLEPERF_APM", "").strip().lower() == APM_HONEYBADGER


def honeybadger_settings(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Honeybadger configuration that instruments every request but never sends anything away.

    A development environment makes Honeybadger use its fake connection (it logs instead of
    sending), and the endpoint points at loopback's discard port in case anything slips past.
    """
    env = os.environ if env is None else env
    return {
        "api_key": env.get("HONEYBADGER_API_KEY", "local-only"),
        "environment": "development",
        "endpoint": APM_LOCAL_ENDPOINT,
        "force_report_data": False,
        "insights_enabled": True,
    }


def pin_honeybadger_env() -> None:
    """Set HONEYBADGER_* variables, which the agents re-read (12-factor), to the local-only ones."""
    for key, value in honeybadger_settings().items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        os.environ[f"HONEYBADGER_{key.upper()}"] = text
