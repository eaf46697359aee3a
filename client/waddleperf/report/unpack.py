"""One bundle's bytes → its manifest and NDJSON members, checked; no database here.

The analysis reads thousands of bundles a second, so the checks are the cheap ones that still
catch every damaged or foreign archive: the gzip stream decompresses to its trailer (CRC and
length: truncation, corruption), ``manifest.json`` comes first and fits the manifest schema
with a known ``bundle_format``, the members are the manifest's in its order, each member's size
and SHA-256 match, and each NDJSON member has the manifest's record count, every line starting
with ``{`` and ending with a newline. The records themselves are parsed later, in bulk, by
DuckDB (a record that does not fit the table types fails its whole bundle there; see
:mod:`waddleperf.report.ingest`).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from waddleperf.report.ustar import plain_members
from waddleperf.results.manifest import MANIFEST, PROFILING, RESULTS, Manifest
from waddleperf.results.reader import BundleError, parse_manifest

#: An uncompressed bundle larger than this is refused (the writer caps bundles at 256 MiB).
MAX_BUNDLE_BYTES = 300 << 20
_MANIFEST_MAX = 1 << 20


class Skip(Exception):
    """A bundle left out of the analysis; the message is the reason, for data_quality."""


@dataclass(frozen=True)
class Unpacked:
    """A checked bundle: manifest, whole-archive SHA-256, and its two NDJSON members."""

    manifest: Manifest
    sha256: str
    size: int
    results: bytes
    profiling: bytes


def _gunzip(data: bytes) -> bytes:
    # One gzip member, read to its trailer: zlib checks the CRC-32 and the length there.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(data, MAX_BUNDLE_BYTES + 1)
    except zlib.error as exc:
        raise Skip(f"archive is truncated or corrupt: {exc}") from None
    if len(raw) > MAX_BUNDLE_BYTES:
        raise Skip(f"archive unpacks to more than {MAX_BUNDLE_BYTES} bytes")
    if not inflater.eof:
        raise Skip("archive is truncated: the gzip stream ends early")
    return raw


def _ndjson_count(name: str, data: bytes) -> int:
    if not data:
        return 0
    if not data.endswith(b"\n"):
        raise Skip(f"{name}: last line has no newline (cut short?)")
    # split() finds newlines with memchr: several times faster than a two-byte search
    lines = data.split(b"\n")
    lines.pop()  # what follows the last newline: nothing
    if not all(line[:1] == b"{" for line in lines):  # an empty line fails here too
        raise Skip(f"{name}: every line must be one JSON object")
    return len(lines)


def unpack(name: str, data: bytes, expect_sha256: str | None = None) -> Unpacked:
    """Check the bundle ``data`` (``name`` for messages); raise :class:`Skip` saying why not.

    ``expect_sha256``: the store's record of the archive's checksum (the local store's sidecar,
    the S3 object's metadata), when it has one.
    """
    sha = hashlib.sha256(data).hexdigest()
    if expect_sha256 and expect_sha256 != sha:
        raise Skip(f"archive SHA-256 {sha[:16]}… differs from the store's {expect_sha256[:16]}…")
    raw = _gunzip(data)
    members: dict[str, bytes] = {}
    try:
        entries = _entries(raw)
        first = next(entries, None)
        if first is None or first[0] != MANIFEST:
            found = "nothing" if first is None else repr(first[0])
            raise Skip(f"the first member must be {MANIFEST}, found {found}")
        manifest = parse_manifest(Path(name), first[1](_MANIFEST_MAX))
        expected = list(manifest.members)
        for member, read in entries:
            if not expected:
                raise Skip(f"{member}: is in the archive but not in the manifest")
            want = expected.pop(0)
            if member != want.name:
                raise Skip(f"{member}: found where the manifest lists {want.name!r} next")
            content = read(MAX_BUNDLE_BYTES)
            if len(content) != want.size_bytes:
                raise Skip(f"{member}: is {len(content)} bytes, the manifest says "
                           f"{want.size_bytes}")  # fmt: skip
            if hashlib.sha256(content).hexdigest() != want.sha256:
                raise Skip(f"{member}: SHA-256 differs from the manifest's")
            if member in (RESULTS, PROFILING):
                members[member] = content
        if expected:
            raise Skip(f"{expected[0].name}: is in the manifest but missing from the archive")
    except BundleError as exc:
        raise Skip(exc.problem if exc.member is None else f"{exc.member}: {exc.problem}") from None
    except tarfile.TarError as exc:
        raise Skip(f"archive is truncated or corrupt: {exc}") from None
    for member in (RESULTS, PROFILING):
        count = _ndjson_count(member, members.get(member, b""))
        if count != manifest.count(member):
            raise Skip(f"{member}: the manifest says {manifest.count(member)} records, "
                       f"found {count}")  # fmt: skip
    return Unpacked(manifest, sha, len(data), members[RESULTS], members[PROFILING])


def _entries(raw: bytes) -> Iterator[tuple[str, Callable[[int], bytes]]]:
    """(name, read) of each member, in archive order; ``read(limit)`` returns its content,
    refusing one of more than ``limit`` bytes. A plain ustar archive is sliced
    (:mod:`waddleperf.report.ustar`), any other is read by ``tarfile``."""
    plain = plain_members(raw)
    if plain is not None:
        for member, start, size in plain:
            yield member, partial(_slice, raw, member, start, size)
        return
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        while (info := tar.next()) is not None:
            yield info.name, partial(_content, tar, info)


def _slice(raw: bytes, member: str, start: int, size: int, limit: int) -> bytes:
    if size > limit:
        raise Skip(f"{member}: is {size} bytes, more than {limit}")
    return raw[start : start + size]


def _content(tar: tarfile.TarFile, info: tarfile.TarInfo, limit: int) -> bytes:
    if not info.isreg():
        raise Skip(f"{info.name}: is not a regular file")
    if info.size > limit:
        raise Skip(f"{info.name}: is {info.size} bytes, more than {limit}")
    src = tar.extractfile(info)
    if src is None:
        raise Skip(f"{info.name}: has no content")
    return src.read()
