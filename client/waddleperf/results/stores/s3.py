"""The S3 store (boto3): AWS S3, MinIO or any S3-compatible service.

Credentials come only from boto3's standard chain (environment, shared files of the user,
instance roles) — never from WaddlePerf's configuration. Each bundle is one ``PutObject``
(bundles are capped well below the 5 GB single-PUT limit) carrying:

* ``ChecksumSHA256`` (base64; optional, for services without flexible checksums), which S3
  verifies on receipt;
* user metadata ``x-amz-meta-sha256`` (hex), ``run-id``, ``bundle-format``, ``agent``;
* object tags ``country``, ``asn``, ``tier``, ``agent``, ``status``, sanitised to S3 tag rules.

A put is confirmed by a ``HeadObject`` afterwards: metadata checksum, length, and the stored
``ChecksumSHA256`` when the service reports one must all match. A put whose key already holds
the same checksum is skipped, so a retry after a crash never stores a bundle twice.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from waddleperf.results.stores import (
    BundleBody,
    PutConfirmation,
    StoreError,
    body_name,
    body_size,
    check_key,
    open_body,
)
from waddleperf.results.stores.s3_config import S3Config

__all__ = ["MAX_TAGS", "S3Config", "S3Store", "s3_metadata", "s3_tag", "s3_tags"]

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: S3 tag limits: 10 tags, keys ≤128 and values ≤256 characters, this character set.
MAX_TAGS = 10
_TAG_BAD = re.compile(r"[^\w +\-=.:/@]")
_META_KEY_BAD = re.compile(r"[^a-z0-9-]")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def s3_tag(text: str, limit: int) -> str:
    """``text`` made a valid S3 tag key/value: allowed characters only, within ``limit``."""
    return _TAG_BAD.sub("_", text)[:limit]


def s3_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Sanitised tags (the first :data:`MAX_TAGS`); ``aws:`` keys are reserved so renamed."""
    out: dict[str, str] = {}
    for key, value in list(tags.items())[:MAX_TAGS]:
        clean = s3_tag(key, 128) or "_"
        if clean.lower().startswith("aws:"):
            clean = "x-" + clean[: 128 - 2]
        out[clean] = s3_tag(str(value), 256)
    return out


def s3_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata made header-safe: lower-case keys, ASCII values (percent-encoded)."""
    return {
        _META_KEY_BAD.sub("-", key.lower()): quote(str(value), safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")
        for key, value in metadata.items()
    }


def _hex_from_b64(value: str | None) -> str | None:
    # Multipart objects report "<b64>-<parts>", a checksum of checksums: not the file's.
    if not value or "-" in value:
        return None
    try:
        return base64.b64decode(value).hex()
    except ValueError:
        return None


class S3Store:
    """Bundles in an S3 bucket under ``prefix``."""

    name = "s3"

    def __init__(self, config: S3Config, client: S3Client | None = None) -> None:
        self.config = config
        self.prefix = config.prefix.strip("/")
        self._client = client or self._make_client(config)

    @staticmethod
    def _make_client(config: S3Config) -> S3Client:
        botocore_config = Config(
            region_name=config.region,
            connect_timeout=config.connect_timeout_s,
            read_timeout=config.read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": max(1, config.client_attempts)},
            s3={"addressing_style": config.addressing_style},
            # We send the one checksum we mean to verify; no extra CRC trailers (MinIO, Ceph).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            config=botocore_config,
            verify=config.verify_tls,
        )

    def _full(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"S3 {action} s3://{self.config.bucket}/{self._full(key)}: {exc}")

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            reply = self._client.head_object(
                Bucket=self.config.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise self._fail("HeadObject", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("HeadObject", key, exc) from exc
        return dict(reply)

    def head(self, key: str) -> str | None:
        """The object's SHA-256 from its metadata (or its S3 checksum); None when absent."""
        reply = self._head(key)
        if reply is None:
            return None
        meta = reply.get("Metadata") or {}
        return str(meta.get("sha256") or _hex_from_b64(reply.get("ChecksumSHA256")) or "")

    def put(
        self,
        bundle: BundleBody,
        key: str,
        sha256: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str],
    ) -> PutConfirmation:
        """Upload unless already stored with ``sha256``; confirm with a HeadObject."""
        location = f"s3://{self.config.bucket}/{self._full(key)}"
        if self.head(key) == sha256:
            return PutConfirmation(key, sha256, location, skipped=True)
        try:
            size = body_size(bundle)
        except OSError as exc:
            raise StoreError(f"cannot read {body_name(bundle)}: {exc}") from exc
        extra: dict[str, Any] = {}
        if self.config.send_checksum:
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
        try:
            with open_body(bundle) as body:
                self._client.put_object(
                    Bucket=self.config.bucket,
                    Key=self._full(key),
                    Body=body,
                    ContentLength=size,
                    ContentType="application/gzip",
                    Metadata=s3_metadata({**metadata, "sha256": sha256}),
                    Tagging=urlencode(s3_tags(tags)),
                    **extra,
                )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("PutObject", key, exc) from exc
        except OSError as exc:
            raise StoreError(f"cannot read {body_name(bundle)}: {exc}") from exc
        self._confirm(key, sha256, size)
        return PutConfirmation(key, sha256, location)

    def _confirm(self, key: str, sha256: str, size: int) -> None:
        reply = self._head(key)
        if reply is None:
            raise StoreError(f"S3 put of {key} not confirmed: the object is not there")
        stored = (reply.get("Metadata") or {}).get("sha256")
        checksum = _hex_from_b64(reply.get("ChecksumSHA256"))
        length = reply.get("ContentLength")
        problems = []
        if stored != sha256:
            problems.append(f"metadata sha256 {stored!r}")
        if checksum is not None and checksum != sha256:
            problems.append(f"ChecksumSHA256 {checksum[:12]}…")
        if length != size:
            problems.append(f"length {length} instead of {size}")
        if problems:
            raise StoreError(f"S3 put of {key} not confirmed: " + ", ".join(problems))

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (relative to the store's prefix), sorted."""
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=base + prefix
            )
            for page in pages:
                keys.extend(obj["Key"][len(base) :] for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 ListObjectsV2 s3://{self.config.bucket}/{base}: {exc}") from exc
        return sorted(keys)
