"""A catalog of real bundles (the project's bundle writer, a small synthetic fleet) and a
real ``waddleperf server`` with its UDP echo on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet import FleetSpec, write_fleet
from tests.support.server import LocalServer, start_server
from waddleperf.webdata.store import Catalog

SPEC = FleetSpec(agents=3, servers=2, tier2_every=5, tier3_every=10)
COUNT = 60  # 20 cycles of 3 agents: escalations every 5th cycle, a load run every 10th


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    write_fleet(root, SPEC, COUNT)
    return root


@pytest.fixture(scope="module")
def catalog(fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    cat = Catalog(tmp_path_factory.mktemp("cat") / "c.duckdb", threads=1)
    try:
        counts = cat.ingest([str(fleet_dir)])
        assert counts["ingested"] == COUNT
        yield cat
    finally:
        cat.close()


@pytest.fixture(scope="module")
def udp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = start_server(tmp_path_factory.mktemp("srv"), services=("http", "udp_echo"))
    try:
        yield srv
    finally:
        srv.stop()
