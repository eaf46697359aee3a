"""Start the Django/Flask targets with gunicorn (and Redis + a Celery worker) on loopback.

Every process is started with a free port and stopped for sure by ``Running.stop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.net import free_port, wait_until
from waddleperf_common.procs import stop

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "targets" / "serve.py"
REDIS = "/usr/bin/redis-server"
MARIADBD = "/usr/sbin/mariadbd"


@dataclass
class Running:
    """A started process (its log file, its URL when it serves HTTP)."""

    proc: subprocess.Popen[bytes]
    log: Path
    port: int
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        stop(self.proc, 15)


def _start(argv: list[str], log: Path, env: dict[str, str], port: int) -> Running:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
            cwd=str(log.parent),
        )
    return Running(proc, log, port, env=env)


def target_env(tmp: Path, framework: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a target: its own SQLite file, no APM, no broker unless asked."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WADDLEPERF_", "CELERY_", "DB_", "HONEYBADGER_"))
    }
    env["DB_NAME"] = str(tmp / f"{framework}.sqlite3")
    env.update(extra or {})
    return env


def start_target(
    tmp: Path, framework: str, extra_env: dict[str, str] | None = None, workers: int = 2
) -> Running:
    """gunicorn serving ``framework`` on 127.0.0.1:<free port>; waits for ``/api/warmup/``."""
    port = free_port()
    env = target_env(tmp, framework, extra_env)
    argv = [
        sys.executable,
        str(SERVE),
        framework,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    run = _start(argv, tmp / f"{framework}-{port}.log", env, port)
    run.url = f"http://127.0.0.1:{port}"
    if not wait_until(lambda: run.proc.poll() is not None or _ok(run.url + "/api/warmup/"), 30):
        run.stop()
        raise RuntimeError(f"{framework} target did not start: {run.text()[-2000:]}")
    if run.proc.poll() is not None:
        raise RuntimeError(f"{framework} target exited: {run.text()[-2000:]}")
    return run


def start_redis(tmp: Path) -> Running:
    """A throw-away redis-server on loopback (no persistence)."""
    port = free_port()
    argv = [
        REDIS,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
    ]
    run = _start(argv, tmp / f"redis-{port}.log", dict(os.environ), port)
    if not wait_until(lambda: "Ready to accept connections" in run.text(), 15):
        run.stop()
        raise RuntimeError(f"redis did not start: {run.text()[-1000:]}")
    return run


def start_mariadb(
    tmp: Path, databases: tuple[str, ...], extra_args: tuple[str, ...] = ()
) -> Running:
    """A throw-away MariaDB on loopback: empty data directory, no grant tables (root, no
    password), the named databases created; ``extra_args`` are more server options."""
    import pymysql  # type: ignore[import-untyped]

    port = free_port()
    data = tmp / "mariadb-data"
    data.mkdir()
    argv = [
        MARIADBD,
        "--no-defaults",
        f"--datadir={data}",
        "--user=root",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        f"--socket={tmp / 'mariadb.sock'}",
        "--skip-grant-tables",
        "--skip-name-resolve",
        f"--pid-file={tmp / 'mariadb.pid'}",
        *extra_args,
    ]
    run = _start(argv, tmp / f"mariadb-{port}.log", dict(os.environ), port)

    def ready() -> bool:
        return run.proc.poll() is not None or "ready for connections" in run.text()

    if not wait_until(ready, 30) or run.proc.poll() is not None:
        run.stop()
        raise RuntimeError(f"mariadb did not start: {run.text()[-2000:]}")
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    try:
        for name in databases:
            conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {name}")
    finally:
        conn.close()
    return run


def start_celery(tmp: Path, framework: str, broker: str) -> Running:
    """The target's Celery worker (solo pool) on ``broker``; waits for its start-up banner.

    Tasks queued before it finishes connecting wait in Redis, so the banner is enough.
    """
    env = target_env(tmp, framework, {"CELERY_BROKER_URL": broker})
    argv = [sys.executable, str(SERVE), f"celery-{framework}"]
    run = _start(argv, tmp / f"celery-{framework}.log", env, 0)
    if not wait_until(lambda: run.proc.poll() is not None or "[queues]" in run.text(), 40):
        run.stop()
        raise RuntimeError(f"celery worker did not start: {run.text()[-2000:]}")
    return run


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


def call(url: str, method: str = "GET") -> tuple[int, Any]:
    """(status, JSON body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
