"""The local directory store (the embedded default): ``ROOT/KEY`` plus a ``KEY.meta.json``.

Writes are atomic (temp file, fsync, rename, fsync directory) and checked: the copy is hashed
on the way and the final file is read back and hashed again before the put is confirmed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

from waddleperf.results.atomic import (
    TMP_SUFFIX,
    atomic_write_bytes,
    atomic_writer,
    copy_hashing,
    sha256_file,
)
from waddleperf.results.stores import (
    BundleBody,
    PutConfirmation,
    StoreError,
    body_name,
    check_key,
    open_body,
)

log = logging.getLogger("waddleperf.results.stores.local")
META_SUFFIX = ".meta.json"
#: A temp file this old was left by a crashed writer (several agents may share the directory,
#: so younger ones may still be in use).
STALE_TMP_S = 3600.0


def _sweep_stale_temps(directory: Path) -> None:
    cutoff = time.time() - STALE_TMP_S
    for tmp in directory.glob(f".*{TMP_SUFFIX}"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                log.info("local store: removed stale temp file %s", tmp)
        except FileNotFoundError:
            continue  # another agent swept it first


class _Mismatch(Exception):
    """Internal: the copied bytes do not hash to what was asked; abandon the temp file."""


class LocalStore:
    """Bundles under a directory, laid out by key."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def head(self, key: str) -> str | None:
        """SHA-256 of the stored file, computed from its bytes; None when absent."""
        path = self._path(key)
        try:
            return sha256_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"local store: cannot read {path}: {exc}") from exc

    def put(
        self,
        bundle: BundleBody,
        key: str,
        sha256: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str],
    ) -> PutConfirmation:
        """Copy the bundle (a file or bytes) to ``ROOT/KEY`` atomically unless it is there
        already; verify it."""
        dest = self._path(key)
        sidecar = dest.with_name(dest.name + META_SUFFIX)
        meta = json.dumps({"tags": dict(tags), "metadata": dict(metadata)}, sort_keys=True)
        try:
            existing = self.head(key)
            if existing == sha256:
                if not sidecar.exists():  # a crash came between the bundle and its sidecar
                    atomic_write_bytes(sidecar, meta.encode())
                return PutConfirmation(key, sha256, str(dest), skipped=True)
            if existing is not None:
                log.warning("local store: replacing %s (checksum %s… differs)", dest, existing[:12])
            dest.parent.mkdir(parents=True, exist_ok=True)
            _sweep_stale_temps(dest.parent)
            atomic_write_bytes(sidecar, meta.encode())
            with open_body(bundle) as src, atomic_writer(dest) as out:
                copied, _ = copy_hashing(src, out)
                if copied != sha256:
                    raise _Mismatch(copied)
            stored = sha256_file(dest)
        except _Mismatch as exc:
            raise StoreError(
                f"local store: {body_name(bundle)} hashes to {exc.args[0][:12]}…, "
                f"not the expected {sha256[:12]}…"
            ) from None
        except OSError as exc:
            raise StoreError(f"local store: cannot write {dest}: {exc}") from exc
        if stored != sha256:
            raise StoreError(f"local store: {dest} reads back with a different checksum")
        return PutConfirmation(key, sha256, str(dest))

    def list(self, prefix: str = "") -> list[str]:
        """Stored bundle keys under ``prefix``, sorted."""
        if not self.root.is_dir():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*.tar.gz")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(k for k in keys if k.startswith(prefix))
