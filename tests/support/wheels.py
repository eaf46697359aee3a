"""The project's wheel and its pins, built offline with the checkout's uv (``make venv`` filled
uv's cache with every locked wheel).

``build_wheel`` runs ``uv build --wheel``; ``export_pins`` writes the lock's versions for some
extras (``uv export``), to install with ``--no-deps``: uv's resolver would ask the index for
metadata the cache of a frozen sync does not hold. ``pack_cached`` turns the cache's unpacked
wheels of some pins back into wheel files beside the project's: a frozen sync's cache has no
registry index pages, so ``uv pip install --offline`` cannot find a pinned wheel in it by name
alone, but it can in a wheelhouse (``--find-links``), as a real deployment ships one."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import zipfile
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


def cache_dir() -> Path:
    """uv's cache on this machine (where ``make venv`` left the locked wheels)."""
    return Path(ok([UV, "cache", "dir"], CHECKOUT).strip())


#: The packed pins, shared by every test of a machine (a wheel's file name says what it holds).
SHARED = Path(tempfile.gettempdir()) / "waddleperf-test-wheelhouse"


def wheelhouse(*pins: Path) -> Path:
    """:data:`SHARED` holding the cached wheel of every pin of ``pins`` (packed once)."""
    SHARED.mkdir(parents=True, exist_ok=True)
    pack_cached(SHARED, *pins)
    return SHARED


def pack_cached(dist: Path, *pins: Path) -> list[Path]:
    """The cached wheel of every ``name==version`` of ``pins`` zipped into ``dist`` (once per
    file name): uv keeps a wheel unpacked, dist-info and RECORD included, so zipping it back
    under its own tag gives the wheel again. Pins without a cached wheel (other platforms'
    markers) are left out."""
    wheels = cache_dir() / "wheels-v8" / "pypi"
    made: list[Path] = []
    for pin in pins:
        for line in pin.read_text().splitlines():
            found = re.match(r"([A-Za-z0-9._-]+)==([^ ;]+)", line.strip())
            if not found:
                continue
            name = re.sub(r"[-_.]+", "-", found[1]).lower()
            for unpacked in sorted((wheels / name).glob(f"{found[2]}-*")):
                if unpacked.suffix in (".http", ".lock") or not unpacked.is_dir():
                    continue
                tree = unpacked.resolve()
                whl = dist / f"{name.replace('-', '_')}-{found[2]}-{_tag(tree)}.whl"
                if not whl.exists():
                    _zip(tree, whl)
                made.append(whl)
    return made


def _tag(tree: Path) -> str:
    """The wheel's compressed tag set (``cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64``)
    from its dist-info's WHEEL file: the cache names some entries by a hash instead."""
    (info,) = tree.glob("*.dist-info/WHEEL")
    tags = [line.split(":", 1)[1].strip().split("-")
            for line in info.read_text().splitlines() if line.startswith("Tag:")]  # fmt: skip
    parts = [list(dict.fromkeys(t[i] for t in tags)) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def _zip(tree: Path, whl: Path) -> None:
    # Stored, not deflated: packing and every install's unpacking cost no compression.
    part = whl.with_name(f"{whl.name}.{os.getpid()}.part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as out:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(tree).as_posix())
    part.rename(whl)
