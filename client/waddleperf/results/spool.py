"""The local spool: where every bundle lands first and stays until a store confirmed it.

Durability rules:

* bundles appear atomically (temp file, fsync, rename, fsync of the directory); a crash leaves
  at most a hidden ``*.tmp`` file, removed when the spool is next opened;
* nothing is ever evicted to make room: past ``max_bytes`` new bundles are still written with a
  WARNING; below the free-disk floor ``min_free_bytes`` new bundles are refused with a WARNING
  and counted — existing bundles are never sacrificed;
* none of that raises: :meth:`Spool.write_bundle` returns a :class:`SpoolReceipt`;
* one agent per spool: an exclusive ``flock`` on ``.lock``; a second opener gets
  :class:`SpoolLockedError`;
* upload bookkeeping (attempts, next try, last error, refusals) lives in ``state.json``, written
  atomically, so back-off survives restarts. A lost or damaged state file only resets back-off.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from waddleperf.results.atomic import (
    ByteSink,
    atomic_write_bytes,
    atomic_writer,
    fsync_dir,
    remove_temp_files,
)

log = logging.getLogger("waddleperf.results.spool")

MiB = 1 << 20
BUNDLE_SUFFIX = ".tar.gz"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
QUARANTINE_DIR = "quarantine"


class SpoolStatus(StrEnum):
    """What happened to a bundle handed to the spool."""

    STORED = "stored"
    STORED_OVER_LIMIT = "stored_over_limit"  # kept, but the spool is past its size limit
    REFUSED = "refused"  # not written: disk floor reached or the write failed


@dataclass(frozen=True)
class SpoolReceipt:
    """The outcome of :meth:`Spool.write_bundle`; ``path``/``sha256`` are None when refused."""

    status: SpoolStatus
    path: Path | None
    sha256: str | None
    size_bytes: int
    message: str = ""

    @property
    def accepted(self) -> bool:
        """True when the bundle is safely in the spool."""
        return self.status is not SpoolStatus.REFUSED


@dataclass
class EntryState:
    """Upload bookkeeping for one spooled bundle (times are epoch seconds)."""

    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""


class SpoolLockedError(RuntimeError):
    """Another agent holds this spool."""


class _Refused(Exception):
    """Internal: abandon the temp file and refuse the bundle."""


class _HashingWriter:
    """Writes through to a file and hashes on the way, so the bundle is read only once."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()


class Spool:
    """A spool directory held by one agent. Thread-safe for one writer plus one uploader."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int | None = 1024 * MiB,
        min_free_bytes: int = 64 * MiB,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()
        self._entries: dict[str, EntryState] = {}
        self._refused_total = 0
        #: Called (from the remover's thread) after a bundle left the spool: room was freed.
        self.on_removed: Callable[[], None] | None = None

    # -- life cycle -----------------------------------------------------------------------

    def open(self) -> Spool:
        """Create the directory, take the lock, clear crash leftovers, load the state."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SpoolLockedError(
                f"spool {self.directory} is in use by another agent (pid {holder}); "
                "one agent per spool"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        for leftover in remove_temp_files(self.directory):
            log.info("spool %s: removed leftover temp file %s", self.directory, leftover.name)
        self._load_state()
        return self

    def close(self) -> None:
        """Release the lock (the state is always already on disk)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_open(self) -> None:
        if self._lock_fd is None:
            raise RuntimeError(f"spool {self.directory} is not open")

    # -- state ----------------------------------------------------------------------------

    def _load_state(self) -> None:
        path = self.directory / STATE_FILE
        self._entries, self._refused_total = {}, 0
        try:
            doc = json.loads(path.read_text())
            self._refused_total = int(doc.get("refused_total", 0))
            for name, entry in dict(doc.get("entries", {})).items():
                if (self.directory / name).is_file():
                    self._entries[name] = EntryState(**entry)
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # Only back-off timing is lost; the bundles themselves are untouched.
            log.warning("spool %s: state file unreadable (%s); back-off reset", path, exc)

    def _save_state(self) -> None:
        doc: dict[str, Any] = {
            "refused_total": self._refused_total,
            "entries": {name: asdict(e) for name, e in sorted(self._entries.items())},
        }
        try:
            atomic_write_bytes(self.directory / STATE_FILE, json.dumps(doc, indent=1).encode())
        except OSError as exc:
            log.warning("spool %s: cannot save state (%s); back-off not kept", self.directory, exc)

    @property
    def refused_total(self) -> int:
        """Bundles refused since the spool was created (survives restarts)."""
        return self._refused_total

    def entry(self, path: Path) -> EntryState:
        """Upload bookkeeping for a spooled bundle (a fresh one if none is recorded)."""
        with self._mutex:
            return EntryState(**asdict(self._entries.get(path.name, EntryState())))

    def record_failure(self, path: Path, error: str, next_try: float) -> EntryState:
        """Count a failed upload of ``path`` and persist when to try next."""
        with self._mutex:
            entry = self._entries.setdefault(path.name, EntryState())
            entry.attempts += 1
            entry.next_try = next_try
            entry.last_error = error[:500]
            self._save_state()
            return EntryState(**asdict(entry))

    def clear_backoff(self, now: float) -> int:
        """Make every bundle waiting for its back-off due now (the store is known to work
        again); returns how many were waiting. Attempt counts stay, for the record."""
        with self._mutex:
            waiting = [e for e in self._entries.values() if e.next_try > now]
            for entry in waiting:
                entry.next_try = 0.0
            if waiting:
                self._save_state()
            return len(waiting)

    # -- bundles --------------------------------------------------------------------------

    def bundles(self) -> list[Path]:
        """Finished bundles waiting for upload, oldest first (names start with the start time)."""
        return sorted(
            p for p in self.directory.glob(f"*{BUNDLE_SUFFIX}") if p.is_file() and p.name[0] != "."
        )

    def size_bytes(self) -> int:
        """Bytes held by waiting bundles."""
        return sum(p.stat().st_size for p in self.bundles())

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use on the spool's file system."""
        st = os.statvfs(self.directory)
        return st.f_bavail * st.f_frsize

    def headroom(self) -> int:
        """Bytes a new bundle may take before free disk falls below the floor (may be < 0)."""
        return self.free_bytes() - self.min_free_bytes

    def _refuse(self, name: str, reason: str) -> SpoolReceipt:
        with self._mutex:
            self._refused_total += 1
            self._save_state()
        message = (
            f"bundle {name} REFUSED, not stored: {reason} (refused so far: {self._refused_total})"
        )
        log.warning("spool %s: %s", self.directory, message)
        return SpoolReceipt(SpoolStatus.REFUSED, None, None, 0, message)

    def write_bundle(self, name: str, write: Callable[[ByteSink], object]) -> SpoolReceipt:
        """Write a bundle named ``name`` atomically through ``write(file)``.

        Disk trouble never raises: below the free-disk floor, or when the write fails
        (ENOSPC, EIO…), the bundle is refused and counted; past ``max_bytes`` it is stored and a
        warning logged. Exceptions raised by ``write`` itself for other reasons propagate.
        """
        self._require_open()
        if not name.endswith(BUNDLE_SUFFIX) or "/" in name or name.startswith("."):
            raise ValueError(f"bad bundle name {name!r}")
        final = self.directory / name
        if final.exists():
            raise FileExistsError(f"bundle {name} is already in the spool")
        free = self.free_bytes()
        if free < self.min_free_bytes:
            floor = self.min_free_bytes
            return self._refuse(name, f"free disk {free} B is below the floor {floor} B")
        try:
            with atomic_writer(final) as out:
                hashing = _HashingWriter(out)
                write(hashing)
                out.flush()
                free = self.free_bytes()
                if free < self.min_free_bytes:
                    raise _Refused(
                        f"writing it would leave {free} B free, below the floor "
                        f"{self.min_free_bytes} B"
                    )
        except _Refused as exc:
            return self._refuse(name, str(exc))
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                log.error("spool %s: writing %s failed: %s", self.directory, name, exc)
            return self._refuse(name, f"write failed: {exc.strerror or exc}")
        sha = hashing.hash.hexdigest()
        total = self.size_bytes()
        if self.max_bytes is not None and total > self.max_bytes:
            message = (
                f"spool holds {total} B, over its limit of {self.max_bytes} B; bundle {name} "
                "kept anyway (nothing is evicted) — is the uploader reaching its store?"
            )
            log.warning("spool %s: %s", self.directory, message)
            return SpoolReceipt(SpoolStatus.STORED_OVER_LIMIT, final, sha, hashing.size, message)
        return SpoolReceipt(SpoolStatus.STORED, final, sha, hashing.size)

    def remove(self, path: Path) -> None:
        """Delete an uploaded bundle (call only after the store confirmed it) and its state."""
        self._require_open()
        path.unlink(missing_ok=True)
        fsync_dir(self.directory)
        with self._mutex:
            if self._entries.pop(path.name, None) is not None:
                self._save_state()
        if self.on_removed is not None:
            self.on_removed()

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move an invalid bundle aside (never deleted) so it stops blocking the queue."""
        self._require_open()
        qdir = self.directory / QUARANTINE_DIR
        qdir.mkdir(exist_ok=True)
        dest = qdir / path.name
        os.replace(path, dest)
        fsync_dir(qdir)
        fsync_dir(self.directory)
        with self._mutex:
            self._entries.pop(path.name, None)
            self._save_state()
        log.error("spool %s: bundle %s quarantined: %s", self.directory, path.name, reason)
        return dest

    def quarantined(self) -> list[Path]:
        """Bundles moved aside as invalid, for an operator to inspect."""
        return sorted((self.directory / QUARANTINE_DIR).glob(f"*{BUNDLE_SUFFIX}"))
