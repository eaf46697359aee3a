"""Reading and validating a bundle; every problem is a :class:`BundleError` naming the member
and, for NDJSON members, the line.

Checked: the archive decompresses to its end (truncation, corruption), ``manifest.json`` comes
first, its ``bundle_format`` is known and it fits the manifest schema, the archive's members are
exactly the manifest's in the same order and all regular files, each member's size and SHA-256
match, every ``results.ndjson`` line is a valid Result, every ``profiling.ndjson`` line is a k6
``Metric``/``Point`` object, and the record counts match.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from waddleperf.results.atomic import sha256_file
from waddleperf.results.bundle import check_profiling
from waddleperf.results.manifest import (
    KNOWN_FORMATS,
    MANIFEST,
    PROFILING,
    RAW_DIR,
    RESULTS,
    Manifest,
    Member,
)
from waddleperf.results.model import Result

_CHUNK = 1 << 20
#: A manifest is a few kilobytes; anything far larger is not one of ours.
_MANIFEST_MAX = 1 << 20


class BundleError(ValueError):
    """A bundle is unreadable or invalid; the message names the file, member and line."""

    def __init__(
        self, path: Path, problem: str, member: str | None = None, line: int | None = None
    ) -> None:
        self.path = path
        self.member = member
        self.line = line
        self.problem = problem
        where = path.name
        if member is not None:
            where += f": {member}"
        if line is not None:
            where += f" line {line}"
        super().__init__(f"{where}: {problem}")


@dataclass
class Bundle:
    """A validated bundle's contents."""

    path: Path
    sha256: str
    manifest: Manifest
    results: list[Result] = field(default_factory=list)
    profiling: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, bytes] = field(default_factory=dict)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {err['msg']}{more}" if loc else f"{err['msg']}{more}"


def parse_manifest(path: Path, data: bytes) -> Manifest:
    """Validate ``manifest.json`` bytes: JSON, known format version, then the schema."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(path, f"not valid JSON: {exc}", MANIFEST) from None
    if not isinstance(doc, dict):
        raise BundleError(path, "must be a JSON object", MANIFEST)
    version = doc.get("bundle_format")
    if version not in KNOWN_FORMATS:
        known = ", ".join(str(v) for v in sorted(KNOWN_FORMATS))
        raise BundleError(
            path, f"unknown bundle_format {version!r} (this reader knows {known})", MANIFEST
        )
    try:
        return Manifest.model_validate(doc)
    except ValidationError as exc:
        problem = f"does not fit the manifest schema: {_first_error(exc)}"
        raise BundleError(path, problem, MANIFEST) from None


def _ndjson_lines(path: Path, member: str, data: bytes) -> list[tuple[int, Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(path, f"not UTF-8 text: {exc}", member) from None
    if text and not text.endswith("\n"):
        raise BundleError(path, "last line has no newline (cut short?)", member)
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            raise BundleError(path, "empty line", member, number)
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise BundleError(path, f"not valid JSON: {exc.msg}", member, number) from None
    return out


def _check_results(path: Path, data: bytes) -> list[Result]:
    results = []
    for number, doc in _ndjson_lines(path, RESULTS, data):
        try:
            results.append(Result.model_validate(doc))
        except ValidationError as exc:
            problem = f"not a valid Result: {_first_error(exc)}"
            raise BundleError(path, problem, RESULTS, number) from None
    return results


def _check_profiling(path: Path, data: bytes) -> list[dict[str, Any]]:
    points = []
    for number, doc in _ndjson_lines(path, PROFILING, data):
        try:
            points.append(check_profiling(doc))
        except ValueError as exc:
            raise BundleError(path, str(exc), PROFILING, number) from None
    return points


def _read_member(path: Path, tar: tarfile.TarFile, info: tarfile.TarInfo, limit: int) -> bytes:
    if not info.isreg():
        raise BundleError(path, "is not a regular file", info.name)
    if info.size > limit:
        raise BundleError(path, f"is {info.size} bytes, more than {limit}", info.name)
    src = tar.extractfile(info)
    if src is None:
        raise BundleError(path, "has no content", info.name)
    return src.read()


def _verify_member(path: Path, expect: Member, data: IO[bytes] | bytes) -> None:
    digest = hashlib.sha256()
    size = 0
    if isinstance(data, bytes):
        digest.update(data)
        size = len(data)
    else:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    if size != expect.size_bytes:
        raise BundleError(
            path, f"is {size} bytes, the manifest says {expect.size_bytes}", expect.name
        )
    if digest.hexdigest() != expect.sha256:
        raise BundleError(
            path,
            f"SHA-256 mismatch: manifest {expect.sha256[:16]}…, content {digest.hexdigest()[:16]}…",
            expect.name,
        )


def _scan(path: Path, keep_raw: bool, content: bytes | None = None) -> Bundle:
    """Validate the bundle at ``path``, or ``content`` (its bytes; ``path`` then names it)."""
    bundle: Bundle | None = None
    current: str | None = None
    source: Path | io.BytesIO = path if content is None else io.BytesIO(content)
    try:
        with gzip.open(source, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                found = "nothing" if first is None else repr(first.name)
                raise BundleError(path, f"the first member must be {MANIFEST}, found {found}")
            current = MANIFEST
            manifest = parse_manifest(path, _read_member(path, tar, first, _MANIFEST_MAX))
            bundle = Bundle(path=path, sha256="", manifest=manifest)
            expected = list(manifest.members)
            while (info := tar.next()) is not None:
                current = info.name
                if not expected:
                    raise BundleError(path, "is in the archive but not in the manifest", current)
                want = expected.pop(0)
                if info.name != want.name:
                    raise BundleError(
                        path, f"found where the manifest lists {want.name!r} next", current
                    )
                if not info.isreg():
                    raise BundleError(path, "is not a regular file", current)
                src = tar.extractfile(info)
                assert src is not None  # regular files always have a stream
                is_ndjson = current in (RESULTS, PROFILING)
                if is_ndjson or keep_raw:
                    data = src.read()
                    _verify_member(path, want, data)
                    if current == RESULTS:
                        bundle.results = _check_results(path, data)
                    elif current == PROFILING:
                        bundle.profiling = _check_profiling(path, data)
                    else:
                        bundle.raw[current.removeprefix(RAW_DIR)] = data
                else:
                    _verify_member(path, want, src)
            if expected:
                raise BundleError(path, "is in the manifest but missing from the archive",
                                  expected[0].name)  # fmt: skip
            current = None
            # Read to the gzip trailer: its CRC and length catch damage after the last member.
            while gz.read(_CHUNK):
                pass
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BundleError(path, f"archive is truncated or corrupt: {exc}", current) from None
    assert bundle is not None
    for name, count in ((RESULTS, len(bundle.results)), (PROFILING, len(bundle.profiling))):
        listed = bundle.manifest.count(name)
        if listed != count:
            raise BundleError(path, f"the manifest says {listed} records, found {count}", name)
    return bundle


def read_bundle(path: Path) -> Bundle:
    """Open and fully validate a bundle; return its contents (raw outputs included)."""
    bundle = _scan(Path(path), keep_raw=True)
    bundle.sha256 = sha256_file(Path(path))
    return bundle


def verify_bundle(path: Path) -> Manifest:
    """Fully validate a bundle without keeping raw outputs in memory; return its manifest."""
    return _scan(Path(path), keep_raw=False).manifest


def verify_bundle_bytes(name: str, data: bytes) -> Manifest:
    """:func:`verify_bundle` for a bundle held in memory (``name``: its file name, for errors)."""
    return _scan(Path(name), keep_raw=False, content=data).manifest


def read_manifest(path: Path) -> Manifest:
    """Read only ``manifest.json`` (first member) — cheap; checksums are not verified."""
    path = Path(path)
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise BundleError(path, f"the first member must be {MANIFEST}")
            return parse_manifest(path, _read_member(path, tar, first, _MANIFEST_MAX))
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BundleError(path, f"archive is truncated or corrupt: {exc}") from None
