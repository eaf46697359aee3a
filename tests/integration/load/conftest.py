"""Targets for the load tests: one gunicorn-served app per framework, shared by the module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.targets import Running, start_target

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
#: Hard bound of one CLI run in these tests (the runs themselves last 5–8 s).
CLI_TIMEOUT_S = 120


def waddleperf(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``waddleperf <args>`` in its own process (Locust must never load into pytest's)."""
    return subprocess.run(
        [WADDLEPERF, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def _target(framework: str, factory: pytest.TempPathFactory) -> Iterator[Running]:
    run = start_target(factory.mktemp(framework), framework)
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture(scope="module")
def flask_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from _target("flask", tmp_path_factory)


@pytest.fixture(scope="module")
def django_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from _target("django", tmp_path_factory)
