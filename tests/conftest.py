"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import RunningServer, start_server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start real servers on loopback with free ports; every one is stopped at teardown."""
    started: list[RunningServer] = []

    def make(**kwargs: Any) -> RunningServer:
        srv = start_server(tmp_path, **kwargs)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory: Callable[..., RunningServer]) -> RunningServer:
    """One real server on 127.0.0.1 with every service enabled."""
    return server_factory()
