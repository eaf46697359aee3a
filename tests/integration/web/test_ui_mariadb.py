"""The UI on a real MariaDB (Debian's mariadbd, started by the test): ``ui create-admin`` and
``waddleperf ui`` with ``--db-uri mysql://…``; every table InnoDB with a primary key, no
table locks in the server's own log of statements; log in, add a user, see it in MariaDB."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.require import require
from tests.support.targets import MARIADBD, Running, start_mariadb
from tests.support.ui_process import PASSWORD, create_admin, start_ui

DB = "wp_ui"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    require(Path(MARIADBD).exists(), "needs mariadbd (Debian package mariadb-server-core)")
    tmp = tmp_path_factory.mktemp("mariadb")
    run = start_mariadb(tmp, (DB,), ("--general-log=1", f"--general-log-file={tmp / 'q.log'}"))
    try:
        yield run
    finally:
        run.stop()


def _query(port: int, sql: str) -> list[tuple[Any, ...]]:
    import pymysql  # type: ignore[import-untyped]

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", database=DB)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _formkey(html: str, name: str) -> str:
    found = re.search(rf'name="_formname" value="{name}">\s*<input type="hidden" '
                      r'name="_formkey" value="([^"]+)"', html)  # fmt: skip
    assert found, html[:500]
    return found.group(1)


def test_ui_on_mariadb(mariadb: Running, tmp_path: Path) -> None:
    uri = f"mysql://root@127.0.0.1:{mariadb.port}/{DB}"
    data = tmp_path / "ui-data"
    weak = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data),
                        password="boss")  # fmt: skip
    assert weak.returncode == 2 and "too simple" in weak.stderr and "Traceback" not in weak.stderr
    made = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    again = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data))
    assert again.returncode == 2 and "already has an account" in again.stderr

    tables = _query(mariadb.port, "SELECT table_name, engine FROM information_schema.tables "
                    f"WHERE table_schema = '{DB}'")  # fmt: skip
    assert {t for t, _ in tables} >= {"auth_user", "auth_user_tag_roles"}
    assert {e for _, e in tables} == {"InnoDB"}
    keyed = _query(mariadb.port, "SELECT DISTINCT table_name FROM information_schema"
                   ".table_constraints WHERE constraint_type = 'PRIMARY KEY' AND "
                   f"table_schema = '{DB}'")  # fmt: skip
    assert {t for (t,) in keyed} == {t for t, _ in tables}

    ui = start_ui(tmp_path, "--db-uri", uri, "--data-dir", str(data), "--results",
                  str(tmp_path / "none"))  # fmt: skip
    try:
        http = requests.Session()
        page = http.get(f"{ui.url}/waddleperf/auth/login", timeout=10)
        fields = {"email": "boss@example.com", "password": PASSWORD, "_formname": "login",
                  "_formkey": _formkey(page.text, "login")}  # fmt: skip
        reply = http.post(f"{ui.url}/waddleperf/auth/login", allow_redirects=False, timeout=10,
                          data=fields)  # fmt: skip
        assert reply.status_code == 303, reply.text[:300]
        users = http.get(f"{ui.url}/waddleperf/users", timeout=10)
        assert users.status_code == 200 and "boss@example.com" in users.text
        added = http.post(f"{ui.url}/waddleperf/users", allow_redirects=False, timeout=10, data={
            "email": "eve@example.com", "password": PASSWORD, "role": "viewer",
            "_formname": "add_user", "_formkey": _formkey(users.text, "add_user")})  # fmt: skip
        assert added.status_code == 303, added.text[:300]
        rows = _query(mariadb.port, "SELECT u.email, t.tagpath FROM auth_user u JOIN "
                      "auth_user_tag_roles t ON t.record_id = u.id ORDER BY u.email")  # fmt: skip
        assert rows == [("boss@example.com", "/admin/"), ("eve@example.com", "/viewer/")]
    finally:
        code = ui.stop()
    assert code == 0, ui.text()[-2000:]
    assert "Traceback" not in ui.text()
    statements = (Path(mariadb.log.parent) / "q.log").read_text(errors="replace").upper()
    assert "INSERT INTO" in statements and "AUTH_USER" in statements
    assert "LOCK TABLE" not in statements
