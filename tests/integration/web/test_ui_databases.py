"""The UI on a real MariaDB and a real PostgreSQL (Debian's servers, started by the test):
``ui create-admin`` and ``waddleperf ui`` with ``--db-uri mysql://…`` / ``postgres://…``; every
table with a primary key (on MariaDB, InnoDB), no table locks in the server's own log of
statements; log in, add a user, see it and its role in the database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.postgres import server_bin, start_postgres
from tests.support.require import require
from tests.support.targets import MARIADBD, start_mariadb
from tests.support.ui_process import PASSWORD, create_admin, start_ui

DB = "wp_ui"
Query = Callable[[str], list[tuple[Any, ...]]]


@dataclass
class Backend:
    """A database server the UI runs on: its URI, a query function, where its tables are
    listed, the log of every statement it ran."""

    uri: str
    query: Query
    schema: str
    statements: Callable[[], str]
    engines: str | None = None  # SQL listing (table, engine) where the server has engines


def _querying(connect: Callable[[], Any]) -> Query:
    """A query function over DB-API connections from ``connect`` (one per query)."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    return query


def _mariadb(tmp: Path) -> Iterator[Backend]:
    require(Path(MARIADBD).exists(), "needs mariadbd (Debian package mariadb-server-core)")
    import pymysql  # type: ignore[import-untyped]

    run = start_mariadb(tmp, (DB,), ("--general-log=1", f"--general-log-file={tmp / 'q.log'}"))

    query = _querying(lambda: pymysql.connect(host="127.0.0.1", port=run.port, user="root",
                                              database=DB))  # fmt: skip
    try:
        yield Backend(f"mysql://root@127.0.0.1:{run.port}/{DB}", query, DB,
                      lambda: (tmp / "q.log").read_text(errors="replace"),
                      "SELECT table_name, engine FROM information_schema.tables "
                      f"WHERE table_schema = '{DB}'")  # fmt: skip
    finally:
        run.stop()


def _postgres(tmp: Path) -> Iterator[Backend]:
    require(server_bin() is not None, "needs PostgreSQL (Debian package postgresql)")
    import psycopg2  # type: ignore[import-untyped]

    run = start_postgres((DB,), ("log_statement=all",))

    query = _querying(lambda: psycopg2.connect(host="127.0.0.1", port=run.port,
                                               user="postgres", dbname=DB))  # fmt: skip
    try:
        yield Backend(run.uri(DB), query, "public", run.text)
    finally:
        run.stop()


@pytest.fixture(scope="module", params=["mariadb", "postgres"])
def backend(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:  # fmt: skip
    start = {"mariadb": _mariadb, "postgres": _postgres}[request.param]
    yield from start(tmp_path_factory.mktemp(request.param))


def _formkey(html: str, name: str) -> str:
    found = re.search(rf'name="_formname" value="{name}">\s*<input type="hidden" '
                      r'name="_formkey" value="([^"]+)"', html)  # fmt: skip
    assert found, html[:500]
    return found.group(1)


def test_ui_on_a_database_server(backend: Backend, tmp_path: Path) -> None:
    uri, data = backend.uri, tmp_path / "ui-data"
    weak = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data),
                        password="boss")  # fmt: skip
    assert weak.returncode == 2 and "too simple" in weak.stderr and "Traceback" not in weak.stderr
    made = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    again = create_admin(tmp_path, "boss@example.com", "--db-uri", uri, "--data-dir", str(data))
    assert again.returncode == 2 and "already has an account" in again.stderr

    tables = {t for (t,) in backend.query("SELECT table_name FROM information_schema.tables "
                                          f"WHERE table_schema = '{backend.schema}'")}  # fmt: skip
    assert tables >= {"auth_user", "auth_user_tag_roles"}
    keyed = backend.query("SELECT DISTINCT table_name FROM information_schema.table_constraints "
                          f"WHERE constraint_type = 'PRIMARY KEY' AND table_schema = "
                          f"'{backend.schema}'")  # fmt: skip
    assert {t for (t,) in keyed} == tables
    if backend.engines:
        assert {e for _, e in backend.query(backend.engines)} == {"InnoDB"}

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
        rows = backend.query("SELECT u.email, t.tagpath FROM auth_user u JOIN auth_user_tag_roles"
                             " t ON t.record_id = u.id ORDER BY u.email")  # fmt: skip
        assert rows == [("boss@example.com", "/admin/"), ("eve@example.com", "/viewer/")]
    finally:
        code = ui.stop()
    assert code == 0, ui.text()[-2000:]
    assert "Traceback" not in ui.text()
    statements = backend.statements().upper()
    assert "INSERT INTO" in statements and "AUTH_USER" in statements
    assert "LOCK TABLE" not in statements
