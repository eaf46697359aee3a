"""Both targets on MariaDB through PyMySQL (DB_ENGINE=mysql and the DB_* variables)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import wait_until
from tests.support.require import require
from tests.support.targets import MARIADBD, Running, call, start_mariadb, start_target


@pytest.fixture(scope="module", autouse=True)
def _mariadbd() -> None:
    require(Path(MARIADBD).exists(), "needs mariadbd (Debian package mariadb-server-core)")


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = start_mariadb(tmp_path_factory.mktemp("mariadb"), ("wp_django", "wp_flask"))
    try:
        yield run
    finally:
        run.stop()


@pytest.mark.parametrize("framework", ["django", "flask"])
def test_target_on_mariadb(mariadb: Running, framework: str, tmp_path: Path) -> None:
    env = {
        "DB_ENGINE": "mysql",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(mariadb.port),
        "DB_USER": "root",
        "DB_PASSWORD": "",
        "DB_NAME": f"wp_{framework}",
    }
    run = start_target(tmp_path, framework, env, workers=2)
    try:
        _, warm = call(run.url + "/api/warmup/")
        assert warm["status"] == "ok"
        assert warm["components"]["database"]["engine"] == "mysql"
        for _ in range(4):
            assert call(run.url + "/api/task/", "POST")[0] == 202
        assert wait_until(lambda: call(run.url + "/api/data/")[1]["count"] == 4, 15)
        _, page = call(run.url + "/api/data/?page=2&page_size=3")
        assert page["pages"] == 2 and len(page["results"]) == 1
    finally:
        run.stop()
