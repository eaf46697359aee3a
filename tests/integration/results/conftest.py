"""Fixtures: fake AWS credentials, a moto S3 server on loopback, a fresh bucket per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3support import FaultProxy, Moto, admin_client, fake_aws
from waddleperf.results.spool import Spool

_names = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def aws_env() -> Iterator[None]:
    """Only fake credentials, no IMDS, no config files: nothing can leave loopback."""
    with pytest.MonkeyPatch.context() as mp:
        fake_aws(mp)
        yield


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with Moto().start() as server:
        yield server


@pytest.fixture
def bucket(moto: Moto) -> str:
    name = f"wp-test-{os.getpid()}-{next(_names)}"
    admin_client(moto.url).create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(moto: Moto) -> Iterator[FaultProxy]:
    fp = FaultProxy(moto.port).start()
    try:
        yield fp
    finally:
        fp.stop()


@pytest.fixture
def spool_factory(tmp_path: Path) -> Iterator[Callable[..., Spool]]:
    """Open spools under tmp_path by name (the same one again for the same name)."""
    opened: dict[str, Spool] = {}

    def make(name: str = "spool", **kw: Any) -> Spool:
        if name not in opened:
            opened[name] = Spool(tmp_path / name, **{"min_free_bytes": 0, **kw}).open()
        return opened[name]

    yield make
    for spool in opened.values():
        spool.close()
