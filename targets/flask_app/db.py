"""The TestData table over DB-API (sqlite3 or PyMySQL), one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from typing import Any

from targets.common.api import TABLE, Page, row_payload
from targets.common.config import DbConfig, db_config

_local = threading.local()

_DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name VARCHAR(64) NOT NULL, value DOUBLE NOT NULL, created_at VARCHAR(40) NOT NULL)",
    "mysql": f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(64) NOT NULL, value DOUBLE NOT NULL, created_at VARCHAR(40) NOT NULL)",
}


def config() -> DbConfig:
    return db_config(default_name="flask_target")


def connect(cfg: DbConfig | None = None) -> Any:
    """This thread's connection, opened on first use."""
    conn = getattr(_local, "conn", None)
    if conn is not None:
        return conn
    cfg = cfg or config()
    if cfg.engine == "sqlite":
        # WAL and a long busy timeout let several gunicorn workers write one file under load
        conn = sqlite3.connect(cfg.name, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    else:
        import pymysql  # type: ignore[import-untyped]

        conn = pymysql.connect(
            host=cfg.host,
            port=cfg.port,
            user=cfg.user,
            password=cfg.password,
            database=cfg.name,
            autocommit=True,
            connect_timeout=5,
        )
    _local.conn = conn
    return conn


def _mark(cfg: DbConfig) -> str:
    return "?" if cfg.engine == "sqlite" else "%s"


def ensure_schema() -> None:
    """Create the table if it is missing (idempotent)."""
    cfg = config()
    conn = connect(cfg)
    conn.cursor().execute(_DDL[cfg.engine])
    conn.commit()


def insert_row(name: str, value: float) -> None:
    """Insert one row (what the background task does)."""
    cfg = config()
    conn = connect(cfg)
    m = _mark(cfg)
    stamp = datetime.now(UTC).isoformat()
    conn.cursor().execute(
        f"INSERT INTO {TABLE} (name, value, created_at) VALUES ({m}, {m}, {m})",  # noqa: S608
        (name, value, stamp),
    )
    conn.commit()


def fetch_page(page: Page) -> tuple[list[dict[str, Any]], int]:
    """Rows of ``page`` (newest first) and the table's row count."""
    cfg = config()
    cur = connect(cfg).cursor()
    m = _mark(cfg)
    cur.execute(f"SELECT COUNT(*) FROM {TABLE}")  # noqa: S608
    count = int(cur.fetchone()[0])
    cur.execute(
        f"SELECT id, name, value, created_at FROM {TABLE} ORDER BY id DESC"  # noqa: S608
        f" LIMIT {m} OFFSET {m}",
        (page.size, page.offset),
    )
    rows = [row_payload(int(r[0]), str(r[1]), float(r[2]), str(r[3])) for r in cur.fetchall()]
    return rows, count


def status() -> dict[str, Any]:
    """Open (or reuse) the connection and count rows; reports latency in milliseconds."""
    t0 = time.perf_counter()
    try:
        ensure_schema()
        cur = connect().cursor()
        cur.execute(f"SELECT COUNT(*) FROM {TABLE}")  # noqa: S608
        rows = int(cur.fetchone()[0])
    except Exception as exc:  # a broken database is reported, not raised
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    ms = round((time.perf_counter() - t0) * 1000, 3)
    return {"status": "ok", "engine": config().engine, "rows": rows, "latency_ms": ms}
