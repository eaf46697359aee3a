"""Skip a test that this machine cannot run, except under ``CI=true``, where it fails instead.

CI installs every tool the suite uses and runs as root, so a test that does not run there is a
broken CI, not a missing tool: a skip there would hide it. Use ``require`` in the test body, in
a fixture, or in a module's autouse fixture instead of ``pytest.skip``/``skipif``/
``importorskip`` (a declared dependency is simply imported: missing, it is an error)::

    @pytest.fixture(autouse=True)
    def _root() -> None:
        require(os.geteuid() == 0, "raw sockets need root")
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    """True when the environment variable CI is "true" (any case), as CI services set it."""
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Go on when ``condition`` holds; otherwise skip the current test with ``reason``, or
    under CI=true fail it (with the reason and no traceback)."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason}, and CI=true forbids skipping", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, package: str) -> str:
    """The path of the executable ``name`` (found on PATH, or an absolute path that exists);
    skips, or fails under CI, naming the Debian ``package`` that provides it."""
    path = shutil.which(name)
    require(path is not None, f"needs {name} (Debian package {package})")
    assert path is not None
    return path


def require_root(why: str) -> None:
    """Skip (or, under CI=true, fail) unless this process runs as root; ``why`` says for what."""
    require(os.geteuid() == 0, f"needs root: {why}")
