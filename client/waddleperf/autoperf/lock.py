"""One agent per result directory: an ``fcntl.flock`` on ``<dir>/.autoperf.lock``.

The kernel drops the lock when the holder dies, however it dies, so a crashed agent never
leaves a stale lock behind; the pid written inside is only for the message a second agent
prints.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".autoperf.lock"


class AlreadyRunning(RuntimeError):
    """Another agent holds the directory's lock."""


class DirectoryLock:
    """Exclusive, non-blocking lock of a directory for this process's lifetime (or ``release``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DirectoryLock:
        """Take the lock or raise AlreadyRunning naming the holder's pid."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another AutoPerf agent (pid {holder}) already uses {self.directory}; "
                "run one agent per result directory (set storage.spool_dir)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
