"""Where bundles come from: a results directory, bundle files, or ``s3://bucket/prefix``.

A source lists its bundles cheaply (location and size: a directory walk, ``ListObjectsV2``)
so the catalog can tell what is new; only new bundles are fetched. The store's own record of
a bundle's SHA-256 comes along with its bytes (the local store's ``.meta.json`` sidecar, the
S3 object's ``sha256`` metadata) and is checked against the bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from waddleperf.results.stores.local import META_SUFFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUNDLE_SUFFIX = ".tar.gz"
#: Concurrent GETs against S3 (each bundle is one small object).
S3_FETCHERS = 8
#: A sidecar is a few hundred bytes; a larger one is not the store's.
_SIDECAR_MAX = 64 * 1024


class SourceError(ValueError):
    """A source cannot be read at all (missing path, unreachable bucket); one line."""


@dataclass(frozen=True)
class Candidate:
    """One bundle a source holds: where, how big (bytes), under which source argument."""

    location: str
    source: str
    size: int


@dataclass(frozen=True)
class Fetched:
    """A candidate's bytes and the store's SHA-256 of them, or why they could not be read."""

    candidate: Candidate
    data: bytes | None
    sha256: str | None = None
    error: str | None = None


class Source(Protocol):
    """A place holding bundles."""

    name: str

    def list(self) -> list[Candidate]:
        """Every bundle there, sorted by location."""
        ...

    def fetch(self, candidates: Iterable[Candidate]) -> Iterator[Fetched]:
        """The bytes of ``candidates``, in order."""
        ...


def _sidecar_sha(path: Path) -> str | None:
    side = path.with_name(path.name + META_SUFFIX)
    try:
        with side.open("rb") as fh:
            doc = json.loads(fh.read(_SIDECAR_MAX))
    except (OSError, ValueError):
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    sha = meta.get("sha256") if isinstance(meta, dict) else None
    return sha if isinstance(sha, str) else None


class LocalSource:
    """A results directory (searched recursively) or one bundle file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    def list(self) -> list[Candidate]:
        """Bundles under the directory (hidden files left out), or the file itself."""
        path = self.path
        if path.is_file():
            return [Candidate(str(path.resolve()), self.name, path.stat().st_size)]
        if not path.is_dir():
            raise SourceError(f"source {path}: no such file or directory")
        found: list[Candidate] = []
        _walk(str(path.resolve()), self.name, found)
        return sorted(found, key=lambda c: c.location)

    @staticmethod
    def read(cand: Candidate) -> Fetched:
        """One file's bytes and its sidecar checksum."""
        path = Path(cand.location)
        try:
            data = path.read_bytes()
        except OSError as exc:
            return Fetched(cand, None, error=f"cannot read: {exc.strerror or exc}")
        return Fetched(cand, data, _sidecar_sha(path))

    def fetch(self, candidates: Iterable[Candidate]) -> Iterator[Fetched]:
        """Read each file and its sidecar checksum."""
        for cand in candidates:
            yield self.read(cand)


def _walk(directory: str, source: str, found: list[Candidate]) -> None:
    # os.scandir: one stat per entry from the directory read, no per-file path resolution.
    try:
        entries = list(os.scandir(directory))
    except OSError as exc:
        raise SourceError(f"source {directory}: cannot list: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            _walk(entry.path, source, found)
        elif entry.name.endswith(BUNDLE_SUFFIX) and entry.is_file():
            found.append(Candidate(entry.path, source, entry.stat().st_size))


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix); SourceError for anything else."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not url.startswith("s3://") or len(bucket) < 3:
        raise SourceError(f"source {url}: expected s3://BUCKET[/PREFIX]")
    return bucket, prefix


class S3Source:
    """Bundles under ``s3://bucket/prefix``, read with boto3 (credentials the boto3 way)."""

    def __init__(self, url: str, endpoint_url: str | None = None,
                 client: S3Client | None = None) -> None:  # fmt: skip
        self.name = url
        self.bucket, self.prefix = parse_s3_url(url)
        self._client = client or _client(endpoint_url)

    def list(self) -> list[Candidate]:
        """Every ``*.tar.gz`` object under the prefix (ListObjectsV2, paginated)."""
        from botocore.exceptions import BotoCoreError, ClientError

        found = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith(BUNDLE_SUFFIX) and not key.rsplit("/", 1)[-1].startswith("."):
                        loc = f"s3://{self.bucket}/{key}"
                        found.append(Candidate(loc, self.name, int(obj.get("Size", 0))))
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"source {self.name}: cannot list: {exc}") from None
        return sorted(found, key=lambda c: c.location)

    def _get(self, cand: Candidate) -> Fetched:
        from botocore.exceptions import BotoCoreError, ClientError

        key = cand.location.removeprefix(f"s3://{self.bucket}/")
        try:
            reply: Any = self._client.get_object(Bucket=self.bucket, Key=key)
            data = reply["Body"].read()
        except (BotoCoreError, ClientError, OSError) as exc:
            return Fetched(cand, None, error=f"cannot read: {exc}")
        sha = (reply.get("Metadata") or {}).get("sha256")
        return Fetched(cand, data, sha if isinstance(sha, str) else None)

    def fetch(self, candidates: Iterable[Candidate]) -> Iterator[Fetched]:
        """GET each object (a few at a time), in order."""
        with ThreadPoolExecutor(S3_FETCHERS) as pool:
            yield from pool.map(self._get, candidates)


def _client(endpoint_url: str | None) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 3},
                    max_pool_connections=S3_FETCHERS)  # fmt: skip
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def open_source(text: str, endpoint_url: str | None = None) -> Source:
    """The source a SOURCE argument names."""
    if text.startswith("s3://"):
        return S3Source(text, endpoint_url)
    return LocalSource(Path(text))
