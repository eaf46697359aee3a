"""Both targets, served by gunicorn on loopback, answer the same API the same way."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.support.net import wait_until
from tests.support.targets import Running, call, start_celery, start_redis, start_target

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


def _count(run: Running) -> int:
    return int(call(run.url + "/api/data/")[1]["count"])


def test_home_page_has_buttons_for_the_api(target: Running) -> None:
    with urllib.request.urlopen(target.url + "/", timeout=5) as resp:
        html = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/html")
    for path in ("/api/data/", "/api/task/", "/api/error/", "/api/warmup/"):
        assert f"'{path}'" in html
    assert html.count("<button") == 4


def test_task_inserts_a_row_in_the_background(target: Running) -> None:
    before = _count(target)
    status, body = call(target.url + "/api/task/", "POST")
    assert status == 202 and body["backend"] == "in-process" and len(body["task_id"]) == 32
    assert wait_until(lambda: _count(target) == before + 1, 10)


def test_data_is_paginated_newest_first(target: Running) -> None:
    before = _count(target)
    for _ in range(5):
        call(target.url + "/api/task/", "POST")
    # Every task's row is in before the pages are read: a row landing between two page reads
    # shifts the second page by one (seen on a busy machine with ">= 5" here).
    assert wait_until(lambda: _count(target) == before + 5, 20)
    status, page = call(target.url + "/api/data/?page=1&page_size=2")
    assert status == 200
    assert set(page) == {"count", "page", "page_size", "pages", "results"}
    assert page["page_size"] == 2 and len(page["results"]) == 2
    assert page["pages"] == -(-page["count"] // 2)
    ids = [r["id"] for r in page["results"]]
    assert ids == sorted(ids, reverse=True)
    assert set(page["results"][0]) == {"id", "name", "value", "created_at"}
    _, second = call(target.url + "/api/data/?page=2&page_size=2")
    assert second["results"][0]["id"] < ids[-1]
    _, lenient = call(target.url + "/api/data/?page=x&page_size=100000")
    assert lenient["page"] == 1 and lenient["page_size"] == 100


def test_error_is_a_logged_json_500(target: Running) -> None:
    status, body = call(target.url + "/api/error/", "POST")
    assert status == 500
    assert body == {"error": "ZeroDivisionError", "detail": "division by zero", "status": 500}
    assert wait_until(lambda: "ZeroDivisionError" in target.text(), 5)


def test_warmup_reports_each_component(target: Running) -> None:
    status, body = call(target.url + "/api/warmup/")
    assert status == 200 and body["status"] == "ok"
    comps = body["components"]
    assert comps["database"]["status"] == "ok" and comps["database"]["engine"] == "sqlite"
    assert comps["task_queue"] == {"status": "ok", "backend": "in-process", "pending": 0}
    assert comps["apm"] == {"status": "disabled"}


def test_wrong_method_is_refused(target: Running) -> None:
    req = urllib.request.Request(target.url + "/api/error/", method="GET")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 405


@pytest.mark.parametrize("framework", ["django", "flask"])
def test_apm_switch_instruments_without_network(tmp_path: Path, framework: str) -> None:
    run = start_target(tmp_path, framework, {"WADDLEPERF_APM": "honeybadger"}, workers=1)
    try:
        _, body = call(run.url + "/api/warmup/")
        assert body["components"]["apm"]["status"] == "ok"
        status, err = call(run.url + "/api/error/", "POST")
        assert status == 500 and err["error"] == "ZeroDivisionError"
        assert call(run.url + "/api/data/")[0] == 200
        assert _remote_addresses(run.proc.pid) <= {"127.0.0.1"}, "APM reached off the machine"
    finally:
        run.stop()


def _remote_addresses(pid: int) -> set[str]:
    """Remote IPs of every inet socket the process tree has open now."""
    root = psutil.Process(pid)
    found: set[str] = set()
    for proc in (root, *root.children(recursive=True)):
        for conn in proc.net_connections(kind="inet"):
            if conn.raddr:
                found.add(conn.raddr.ip)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["django", "flask"])
def test_celery_with_real_redis_inserts_rows(tmp_path: Path, framework: str) -> None:
    redis = start_redis(tmp_path)
    broker = f"redis://127.0.0.1:{redis.port}/0"
    started: list[Running] = [redis]
    try:
        started.append(start_celery(tmp_path, framework, broker))
        run = start_target(tmp_path, framework, {"CELERY_BROKER_URL": broker}, workers=1)
        started.append(run)
        _, warm = call(run.url + "/api/warmup/")
        assert warm["components"]["task_queue"] == {"status": "ok", "backend": "celery"}
        for _ in range(3):
            status, body = call(run.url + "/api/task/", "POST")
            assert status == 202 and body["backend"] == "celery"
        assert wait_until(lambda: _count(run) == 3, 20), started[1].text()[-2000:]
    finally:
        for proc in reversed(started):
            proc.stop()


@pytest.mark.slow
def test_load_run_with_celery_and_redis_loses_no_task(tmp_path: Path) -> None:
    """The database-heavy user against Django with a real Redis and Celery worker: every task
    request that was answered 202 becomes a row."""
    redis = start_redis(tmp_path)
    broker = f"redis://127.0.0.1:{redis.port}/0"
    started: list[Running] = [redis]
    try:
        started.append(start_celery(tmp_path, "django", broker))
        run = start_target(tmp_path, "django", {"CELERY_BROKER_URL": broker}, workers=2)
        started.append(run)
        out = tmp_path / "load"
        res = subprocess.run(
            [
                WADDLEPERF,
                "load",
                "run",
                "--host",
                run.url,
                "--user",
                "database",
                "--users",
                "3",
                "--spawn-rate",
                "3",
                "--duration",
                "5",
                "--no-plots",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        record = json.loads((out / "result.json").read_text())
        assert record["status"] == "ok", record["error"]
        tasks = record["raw"]["endpoints"]["POST /api/task/"]
        assert tasks["failures"] == 0 and tasks["requests"] > 5
        assert wait_until(lambda: _count(run) == tasks["requests"], 30), (
            _count(run),
            tasks["requests"],
        )
    finally:
        for proc in reversed(started):
            proc.stop()
