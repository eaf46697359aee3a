"""A command in a mount namespace of its own whose /etc, /opt and /var/lib are overlays: it
reads the machine's files and writes only to upper directories under ``root`` (a test's
temporary directory), so a deployment "installs" on a throw-away copy of this machine.

``wrap(root, argv)`` is the argument list; run it with subprocess. The same ``root`` again
sees what the earlier commands wrote. Needs root and overlayfs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

OVERLAID = ("/etc", "/opt", "/var/lib")


def wrap(root: Path, argv: Sequence[str]) -> list[str]:
    """The argument list running ``argv`` over the overlays kept in ``root``."""
    return ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-m",
            "tests.support.mountns", str(root), "--", *argv]  # fmt: skip


def upper(root: Path, path: str) -> Path:
    """Where a file written at ``path`` (under one of OVERLAID) lands on the real disk."""
    top = next(d for d in OVERLAID if path == d or path.startswith(d + "/"))
    return root / top.strip("/").replace("/", "_") / "upper" / path[len(top) :].lstrip("/")


def _mount(root: Path) -> None:
    for top in OVERLAID:
        base = root / top.strip("/").replace("/", "_")
        (base / "upper").mkdir(parents=True, exist_ok=True)
        (base / "work").mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={top},upperdir={base / 'upper'},workdir={base / 'work'}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, top], check=True)


if __name__ == "__main__":
    root, sep, *command = sys.argv[1:]
    assert sep == "--" and command, "usage: mountns ROOT -- COMMAND…"
    _mount(Path(root))
    os.execvp(command[0], command)
