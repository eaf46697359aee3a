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


def _weight(item: pytest.Item) -> int:
    """How early ``item``'s file should start: its ``slow`` marker's ``weight`` (1 when it
    has none; 0 for a file without the marker)."""
    mark = item.get_closest_marker("slow")
    return 0 if mark is None else int(mark.kwargs.get("weight", 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first, the heaviest first (stable otherwise). The parallel phase
    hands whole files to its two workers as they free up (``--dist loadfile``): starting the
    longest files first lets both workers finish together instead of one waiting on the SSH
    deploy test at the end."""
    weight: dict[str, int] = {}
    for item in items:
        weight[item.path.as_posix()] = max(weight.get(item.path.as_posix(), 0), _weight(item))
    items.sort(key=lambda item: -weight[item.path.as_posix()])


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start real servers on loopback with free ports; every one is stopped at teardown."""
    yield from stopping(functools.partial(start_server, tmp_path))


@pytest.fixture
def server(server_factory: Callable[..., LocalServer]) -> LocalServer:
    """One real server on 127.0.0.1 with every service enabled."""
    return server_factory()
