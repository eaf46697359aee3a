"""Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

A reader (or a process restarted after SIGKILL or power loss) sees either the old state or
the complete new file, never a prefix. Temp files end in :data:`TMP_SUFFIX` and start with a
dot so that globbing for finished files (``*.tar.gz``) can never match one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

TMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20


class ByteSink(Protocol):
    """Anything bytes can be written to (a file, a hashing wrapper)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink inside ``directory`` durable (the entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(final: Path) -> Path:
    """A unique temp name beside ``final``: hidden, ends in ``.tmp``, never a finished name."""
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


@contextmanager
def atomic_writer(final: Path) -> Iterator[BinaryIO]:
    """Open a temp file; on clean exit it is fsynced and renamed onto ``final`` durably.

    On any exception the temp file is removed and ``final`` is untouched.
    """
    tmp = temp_path_for(final)
    # O_EXCL: two writers can never share one temp file, however the names were chosen.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def atomic_write_bytes(final: Path, data: bytes) -> None:
    """Replace ``final`` with ``data`` atomically and durably."""
    with atomic_writer(final) as out:
        out.write(data)


def copy_hashing(source: BinaryIO, dest: BinaryIO) -> tuple[str, int]:
    """Copy ``source`` to ``dest``; return the copied bytes' SHA-256 (hex) and length."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        dest.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def remove_temp_files(directory: Path) -> list[Path]:
    """Delete leftover ``*.tmp`` files of crashed writers in ``directory``; return them.

    Only safe while no writer is active there — callers hold the spool lock.
    """
    removed = []
    for path in sorted(directory.glob(f".*{TMP_SUFFIX}")):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        fsync_dir(directory)
    return removed
