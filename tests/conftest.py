"""Fixtures shared by every test layer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import durations
from tests.support.factory import stopping
from tests.support.server import LocalServer, start_server


def pytest_configure(config: pytest.Config) -> None:
    """Record every test's time for the suite's report across phases (``WPL_DURATIONS``)."""
    durations.register(config)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start real servers on loopback with free ports; every one is stopped at teardown."""
    yield from stopping(functools.partial(start_server, tmp_path))


@pytest.fixture
def server(server_factory: Callable[..., LocalServer]) -> LocalServer:
    """One real server on 127.0.0.1 with every service enabled."""
    return server_factory()
