"""Running ``waddleperf autoperf`` as a real process against real servers on loopback
(the config helpers are in tests/support/agentconf.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.targets import Running, start_target


@pytest.fixture(scope="module")
def flask_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The Flask target under gunicorn on loopback (one per module: it takes seconds)."""
    run = start_target(tmp_path_factory.mktemp("flask"), "flask", workers=1)
    try:
        yield run
    finally:
        run.stop()
