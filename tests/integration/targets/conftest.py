"""Fixtures: a running target per framework, torn down at the end of the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.targets import Running, start_target


@pytest.fixture(scope="module", params=["django", "flask"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """A gunicorn-served target on loopback with a fresh SQLite database."""
    tmp: Path = tmp_path_factory.mktemp(request.param)
    run = start_target(tmp, request.param)
    try:
        yield run
    finally:
        run.stop()
