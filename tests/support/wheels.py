"""The project's wheel and its pins, built offline with the checkout's uv (``make venv`` filled
uv's cache with every locked wheel, so installs from the cache need no index).

``build_wheel`` runs ``uv build --wheel``; ``export_pins`` writes the lock's versions for some
extras (``uv export``), to install with ``--no-deps``: uv's resolver would ask the index for
metadata the cache of a frozen sync does not hold."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
UV = CHECKOUT / ".tools" / "bin" / "uv"


def uv_env() -> dict[str, str]:
    """This environment without anything that points into the checkout or its venv, offline."""
    drop = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("WADDLEPERF")}
    env.update(UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1")
    return env


def run(
    argv: Sequence[str | Path], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=uv_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def ok(argv: Sequence[str | Path], cwd: Path, timeout: float = 60) -> str:
    """``argv``'s stdout; an AssertionError with its output when it fails."""
    done = run(argv, cwd, timeout)
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(work: Path) -> Path:
    """The project's wheel, built into ``work/dist``."""
    dist = work / "dist"
    ok([UV, "build", "--wheel", "--offline", "-q", "-o", dist, CHECKOUT], work, timeout=120)
    (built,) = dist.glob("waddleperf-*.whl")
    return built


def export_pins(work: Path, name: str, extras: Sequence[str]) -> Path:
    """``work/name.txt``: the lock's versions of everything the extras need (no hashes)."""
    pins = work / f"{name}.txt"
    flags = [a for e in extras for a in ("--extra", e)]
    ok([UV, "export", "-q", "--project", CHECKOUT, "--frozen", "--no-dev", "--no-emit-project",
        "--no-hashes", *flags, "-o", pins], work)  # fmt: skip
    return pins
