"""The built wheel, installed into fresh venvs outside the checkout, serves and probes.

Offline: every locked wheel is in uv's cache (``make venv`` put it there), so the venvs get the
lock's own versions (``uv export``) with ``--no-deps`` — uv's pip resolver would ask the index
for metadata the cache of a frozen sync does not hold. ``uv pip check`` then confirms that
what the wheel declares is all there. Every command runs in the test's temporary directory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from tests.support import wheels
from waddleperf.localstack import LOOPBACK, LocalServer, start_server
from waddleperf.results.reader import read_bundle

pytestmark = pytest.mark.slow

CHECKOUT = wheels.CHECKOUT
UV = wheels.UV
if not UV.exists():
    pytest.skip("needs the checkout's uv (make venv)", allow_module_level=True)

NOT_IN_SERVER = ("locust", "django", "matplotlib")


_run = wheels.run
_ok = wheels.ok


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wheel")
    assert not path.resolve().is_relative_to(CHECKOUT)
    return path


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    return wheels.build_wheel(work)


def _install(work: Path, wheel: Path, name: str, extras: Sequence[str]) -> Path:
    """A fresh venv ``work/name`` holding the wheel with ``extras`` at the lock's versions."""
    venv = work / name
    pins = wheels.export_pins(work, name, extras)
    _ok([UV, "venv", "-q", "--offline", "--python", sys.executable, venv], work)
    python = venv / "bin" / "python"
    spec = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    # A wheelhouse of the pins (from uv's cache), as a deployment ships one: a frozen sync's
    # cache has no index pages, so an offline install cannot find the pins in it by name.
    house = wheels.wheelhouse(pins)
    _ok([UV, "pip", "install", "-q", "--offline", "--no-index", "--find-links", house,
         "--no-deps", "--python", python, "-r", pins, spec], work, timeout=180)  # fmt: skip
    _ok([UV, "pip", "check", "-q", "--python", python], work)
    code = "import waddleperf, waddleperf_server as s; print(waddleperf.__file__, s.__file__)"
    where = _ok([python, "-c", code], work)
    for line in where.split():
        assert Path(line).resolve().is_relative_to(venv.resolve()), where
    return venv


@pytest.fixture(scope="module")
def server_venv(work: Path, wheel: Path) -> Path:
    return _install(work, wheel, "server-only", ["server"])


@pytest.fixture(scope="module")
def base_venv(work: Path, wheel: Path) -> Path:
    return _install(work, wheel, "base", [])


@pytest.fixture(scope="module")
def server(work: Path, server_venv: Path) -> Iterator[LocalServer]:
    srv = start_server(work / "server.log", command=[str(server_venv / "bin" / "waddleperf")],
                       cwd=work)  # fmt: skip
    try:
        yield srv
    finally:
        srv.stop()


def test_a_server_only_install_serves_without_load_or_targets(
    work: Path, server_venv: Path, server: LocalServer
) -> None:
    assert server.health()["services"]["http"]["state"] == "running"
    python = server_venv / "bin" / "python"
    for module in NOT_IN_SERVER:
        done = _run([python, "-c", f"import {module}"], work)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, module
    done = _run([server_venv / "bin" / "waddleperf", "load", "run", "--host", "http://127.0.0.1:9"],
                work)  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.strip() == (
        "waddleperf load run: needs waddleperf[load]: pip install 'waddleperf[load]'"
    )


def test_the_base_install_runs_one_agent_cycle(
    work: Path, base_venv: Path, server: LocalServer
) -> None:
    cli = base_venv / "bin" / "waddleperf"
    _ok([cli, "--help"], work)
    done = _run([cli, "server"], work)
    assert (done.returncode, done.stderr.strip()) == (
        2, "waddleperf server: needs waddleperf[server]: pip install 'waddleperf[server]'"
    )  # fmt: skip
    agent = work / "agent"
    agent.mkdir()
    quick = {"probes": [{"probe": "tcp", "options": {"count": 2}},
                        {"probe": "udp", "options": {"count": 20, "interval_s": 0.005,
                                                     "timeout_s": 1}},
                        {"probe": "http", "options": {"count": 2}}]}  # fmt: skip
    config = {
        "servers": [{"name": "lo", "host": LOOPBACK,
                     "ports": {"http": server.http_port, "tcp_echo": server.tcp_echo_port,
                               "udp_echo": server.udp_echo_port, "iperf": 0}}],
        "storage": {"spool_dir": str(agent / "spool"), "store": {"dir": str(agent / "store")}},
        "tiers": {"interval_s": 1, "jitter_pct": 0, "tier1": quick, "tier2": quick,
                  "tier3": {"load": False, **quick}},
    }  # fmt: skip
    path = agent / "autoperf.yml"
    path.write_text(yaml.safe_dump(config))
    _ok([cli, "autoperf", "--config", path, "--once", "--json"], agent, timeout=60)
    bundles = sorted(agent.rglob("*.tar.gz"))
    assert len(bundles) == 1, bundles
    results = read_bundle(bundles[0]).results
    seen = {(r.kind, r.status.value) for r in results}
    want = {("probe.tcp", "ok"), ("probe.udp", "ok"), ("probe.http", "ok")}
    assert seen >= want, [(r.kind, r.status, r.error) for r in results]
