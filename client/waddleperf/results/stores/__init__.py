"""Stores: where confirmed bundles end up. Plug-ins of one shape (:class:`Store`).

Keys are relative and Hive-partitioned, the same for every store::

    v1/date=YYYY-MM-DD/agent=AGENT/RUN_ID.tar.gz

A store puts its own root in front (the local store's directory, the S3 store's prefix).
Partition values are percent-encoded like Hive does, so any agent name stays one path segment.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote

from waddleperf.results.manifest import Manifest

LAYOUT_VERSION = "v1"


#: A bundle to store: its spool file, or its archive's bytes (a bundle held in memory because the
#: spool's disk could not take it).
BundleBody = Path | bytes


def open_body(body: BundleBody) -> BinaryIO:
    """The bundle's bytes as a binary file (close it after use)."""
    return body.open("rb") if isinstance(body, Path) else io.BytesIO(body)


def body_size(body: BundleBody) -> int:
    """The bundle's size in bytes."""
    return body.stat().st_size if isinstance(body, Path) else len(body)


def body_name(body: BundleBody) -> str:
    """A name for messages: the spool file's name, or "bundle in memory"."""
    return body.name if isinstance(body, Path) else "bundle in memory"


class StoreError(RuntimeError):
    """A store operation failed; the bundle stays in the spool and is retried later."""


@dataclass(frozen=True)
class PutConfirmation:
    """A store's word that ``key`` now holds bytes with ``sha256`` (checked after writing)."""

    key: str
    sha256: str
    location: str
    skipped: bool = False  # already there with the same checksum: nothing was sent
    verified: bool = True


@runtime_checkable
class Store(Protocol):
    """What the uploader needs from a store."""

    name: str

    def put(
        self,
        bundle: BundleBody,
        key: str,
        sha256: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str],
    ) -> PutConfirmation:
        """Store the bundle (a file or bytes) under ``key`` unless it is already there with
        ``sha256``; confirm it.

        Raises :class:`StoreError` when the bytes could not be stored and verified.
        """
        ...

    def head(self, key: str) -> str | None:
        """The stored object's SHA-256 (hex); None when absent, "" when it has no checksum."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (relative, sorted)."""
        ...


def _segment(value: str) -> str:
    # Hive escapes partition values; "." and ".." must not become directory names either.
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in {".", ".."} else encoded


def hive_key(manifest: Manifest) -> str:
    """The relative key of a bundle: partitioned by UTC start date and agent."""
    day = manifest.started_at.strftime("%Y-%m-%d")
    return (
        f"{LAYOUT_VERSION}/date={day}/agent={_segment(manifest.agent)}/"
        f"{_segment(manifest.run_id)}.tar.gz"
    )


def check_key(key: str) -> str:
    """Reject keys that could escape a store's root; return the key."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise ValueError(f"bad store key {key!r}")
    return key


def bundle_tags(manifest: Manifest) -> dict[str, str]:
    """Object tags for a bundle: country, asn, tier (highest run), agent and status."""
    geo = manifest.geo
    scope = geo.get("scope")
    # A private or loopback agent has no country; say why rather than "unknown".
    country = geo.get("country") or (scope if scope not in (None, "public") else "unknown")
    asn = geo.get("asn")
    return {
        "country": str(country),
        "asn": str(asn) if asn is not None else "unknown",
        "tier": str(max(manifest.tiers)) if manifest.tiers else "none",
        "agent": manifest.agent,
        "status": manifest.status,
    }


def bundle_metadata(manifest: Manifest, sha256: str) -> dict[str, str]:
    """User metadata for a bundle: its checksum, run id and bundle format."""
    return {
        "sha256": sha256,
        "run-id": manifest.run_id,
        "bundle-format": str(manifest.bundle_format),
        "agent": manifest.agent,
    }


__all__ = [
    "LAYOUT_VERSION",
    "BundleBody",
    "PutConfirmation",
    "Store",
    "StoreError",
    "body_name",
    "body_size",
    "bundle_metadata",
    "bundle_tags",
    "check_key",
    "hive_key",
    "open_body",
]
