"""Stand-ins for the uploader's tests: a store kept in memory and a clock a test moves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from waddleperf.results.stores import BundleBody, PutConfirmation, StoreError


class MemoryStore:
    """A Store kept in a dict; fails the next ``failures`` calls to put."""

    name = "memory"

    def __init__(self, failures: int = 0, confirm_wrong: bool = False) -> None:
        self.objects: dict[str, tuple[str, bytes, dict[str, str], dict[str, str]]] = {}
        self.failures = failures
        self.confirm_wrong = confirm_wrong
        self.puts: list[str] = []

    def put(
        self,
        bundle: BundleBody,
        key: str,
        sha256: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str],
    ) -> PutConfirmation:
        self.puts.append(key)
        if self.failures:
            self.failures -= 1
            raise StoreError("endpoint unreachable")
        if self.head(key) == sha256:
            return PutConfirmation(key, sha256, "mem", skipped=True)
        data = bundle.read_bytes() if isinstance(bundle, Path) else bundle
        self.objects[key] = (sha256, data, dict(tags), dict(metadata))
        return PutConfirmation(key, "0" * 64 if self.confirm_wrong else sha256, "mem")

    def head(self, key: str) -> str | None:
        return self.objects[key][0] if key in self.objects else None

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


class Clock:
    """A clock that stands still until a test moves ``now`` (seconds)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now
