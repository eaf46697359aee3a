"""Fixtures: fake AWS credentials, a moto S3 server on loopback, a fresh bucket per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.integration.results.s3support import AWS_ENV, FaultProxy, Moto
from waddleperf.results.spool import Spool
from waddleperf.results.stores.s3 import S3Config, S3Store

_names = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def aws_env() -> Iterator[None]:
    """Only fake credentials, no IMDS, no config files: nothing can leave loopback."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in AWS_ENV.items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(key, raising=False)
        yield


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    server = Moto().start()
    try:
        yield server
    finally:
        server.stop()


def admin_client(endpoint: str) -> Any:
    """A plain client for test set-up and inspection (not the code under test)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}),
    )


@pytest.fixture
def bucket(moto: Moto) -> str:
    name = f"wp-test-{os.getpid()}-{next(_names)}"
    admin_client(moto.url).create_bucket(Bucket=name)
    return name


def store_for(endpoint: str, bucket: str, **kw: Any) -> S3Store:
    config = S3Config(
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        addressing_style="path",
        **{"prefix": "waddle", "connect_timeout_s": 1.0, "read_timeout_s": 5.0, **kw},
    )
    return S3Store(config)


def stored_keys(endpoint: str, bucket: str) -> list[str]:
    """Every object key in the bucket (independent of the store's own list())."""
    pages = admin_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


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
