"""Extras by role: read from the installed metadata; a missing one is one line and exit 2."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from waddleperf import extras
from waddleperf.cli import app

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _declared() -> dict[str, list[str]]:
    doc = tomllib.loads(PYPROJECT.read_text())
    return dict(doc["project"]["optional-dependencies"])


def test_requirements_are_pyprojects_lists() -> None:
    for extra, reqs in _declared().items():
        names = sorted(r.split(">")[0].split("=")[0].split("[")[0] for r in reqs)
        assert sorted(extras.requirements(extra)) == names, extra


def test_a_server_install_pulls_no_load_or_targets_framework() -> None:
    server = {n.lower() for n in extras.requirements("server")}
    assert not server & {"django", "locust", "matplotlib", "celery"}


def test_everything_is_installed_here() -> None:
    # make venv syncs every extra: the suite runs against the whole package
    assert extras.missing("server", "load", "targets", "ui", "report") == []


@pytest.fixture
def without_locust(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.distribution

    def distribution(name: str) -> metadata.Distribution:
        if name.lower() in ("locust", "flask"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)


@pytest.mark.usefixtures("without_locust")
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["load", "run", "--host", "http://127.0.0.1:9"],
         "waddleperf load run: needs waddleperf[load]: pip install 'waddleperf[load]'"),
        (["server"],
         "waddleperf server: needs waddleperf[server]: pip install 'waddleperf[server]'"),
        (["demo"], "waddleperf demo: needs waddleperf[server,load,targets]: "
                   "pip install 'waddleperf[server,load,targets]'"),
    ],
)  # fmt: skip
def test_a_missing_extra_is_one_line_and_exit_2(argv: list[str], line: str) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.usefixtures("without_locust")
def test_help_needs_no_extra() -> None:
    for argv in (["--help"], ["load", "run", "--help"], ["server", "--help"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, (argv, result.output)
