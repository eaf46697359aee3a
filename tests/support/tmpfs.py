"""Small tmpfs mounts for disk-full tests: mounted for one test, unmounted even on failure."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.require import require

__all__ = ["fill", "small_tmpfs"]


@contextmanager
def small_tmpfs(mountpoint: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mountpoint`` (created); skips the test where mounting is not
    allowed; lazily unmounted at the end, so a process still holding a file cannot block it."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill(mountpoint: Path, leave: int, name: str = "filler") -> Path:
    """Make ``mountpoint`` (nearly) full: a file ``name`` takes all but ``leave`` free bytes
    (any earlier filler of that name is replaced). Delete the file to free the disk again."""
    filler = mountpoint / name
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(mountpoint).free
    with filler.open("wb") as out:
        left = max(free - leave, 0)
        chunk = b"\0" * (1 << 20)
        while left > 0:
            try:
                left -= out.write(chunk[: min(left, len(chunk))])
            except OSError:  # ENOSPC: as full as it gets
                break
    return filler
