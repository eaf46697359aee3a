"""Writing a bundle: one AutoPerf cycle as a deterministic ``.tar.gz`` placed in the spool.

Members, in this order: ``manifest.json``, ``results.ndjson`` (one Result per line),
``profiling.ndjson`` (k6 ``Metric``/``Point`` lines), then ``raw/<name>`` sorted by name.
Every tar header and the gzip header carry fixed owner, mode and time (the run's end), so the
same content always yields the same bytes and the same SHA-256 — which is what makes a
re-upload after a crash recognisable as a duplicate.

Sizes are bounded: a raw output over ``max_raw_bytes`` or anything that would push the
uncompressed bundle over ``max_bundle_bytes`` is left out and listed in the manifest's
``rejected``; the agent is never interrupted by an exception for it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from waddleperf import __version__
from waddleperf.results.atomic import TMP_SUFFIX, ByteSink
from waddleperf.results.manifest import (
    MANIFEST,
    PROFILING,
    RAW_DIR,
    RAW_NAME_PATTERN,
    RESULTS,
    GeoValue,
    Manifest,
    Member,
    Rejected,
    worst_status,
)
from waddleperf.results.model import Result, default_agent, new_run_id, utc_now

if TYPE_CHECKING:
    from waddleperf.results.spool import Spool, SpoolReceipt

log = logging.getLogger("waddleperf.results.bundle")

MiB = 1 << 20
#: Member content stays in memory up to this size, then spills to a temp file in the spool.
_IN_MEMORY = 8 * MiB
_RAW_NAME = re.compile(RAW_NAME_PATTERN)
PROFILING_TYPES = frozenset({"Metric", "Point"})


@dataclass(frozen=True)
class BundleLimits:
    """Size caps, in bytes of uncompressed member content."""

    max_raw_bytes: int = 16 * MiB
    max_bundle_bytes: int = 256 * MiB


def bundle_filename(started_at: datetime, run_id: str) -> str:
    """Spool file name: start time first so that sorting by name is oldest first."""
    return f"{started_at.strftime('%Y%m%dT%H%M%S%fZ')}_{run_id}.tar.gz"


def check_profiling(data: Any) -> dict[str, Any]:
    """Check one parsed k6 NDJSON line; raise ValueError saying what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("a profiling line must be a JSON object")
    if data.get("type") not in PROFILING_TYPES:
        raise ValueError(f"profiling line type must be Metric or Point, not {data.get('type')!r}")
    if not isinstance(data.get("metric"), str) or not isinstance(data.get("data"), dict):
        raise ValueError("a profiling line needs a string 'metric' and an object 'data'")
    return data


class _MemberBuffer:
    """An NDJSON or raw member being collected: bytes, running SHA-256, line count."""

    def __init__(self, name: str, spill_dir: Path | None) -> None:
        self.name = name
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 — closed in close()
            max_size=_IN_MEMORY,
            dir=str(spill_dir) if spill_dir else None,
            prefix=".member.",
            suffix=TMP_SUFFIX,
        )
        self.hash = hashlib.sha256()
        self.size = 0
        self.records = 0

    def append(self, data: bytes, records: int = 0) -> None:
        self.file.write(data)
        self.hash.update(data)
        self.size += len(data)
        self.records += records

    def member(self, ndjson: bool) -> Member:
        return Member(
            name=self.name,
            size_bytes=self.size,
            sha256=self.hash.hexdigest(),
            records=self.records if ndjson else None,
        )

    def close(self) -> None:
        self.file.close()


class BundleWriter:
    """Collects one AutoPerf cycle and writes it as a bundle into a spool.

    Use: ``add_result`` / ``add_profiling`` / ``add_raw`` during the cycle, then
    ``finalize()`` once. Not thread-safe: one cycle, one writer.
    """

    def __init__(
        self,
        spool: Spool | None,
        *,
        agent: str | None = None,
        run_id: str | None = None,
        tiers: Iterable[int] = (),
        started_at: datetime | None = None,
        geo: Mapping[str, GeoValue] | None = None,
        limits: BundleLimits | None = None,
    ) -> None:
        self._spool = spool
        self.agent = agent or default_agent()
        self.run_id = run_id or new_run_id()
        # Checked now, not at finalize(): a bad id must not cost a whole cycle's results.
        if not _RAW_NAME.match(self.run_id):
            raise ValueError(f"run id {self.run_id!r} must match {RAW_NAME_PATTERN}")
        start = started_at or utc_now()
        if start.tzinfo is None:
            raise ValueError("started_at must be timezone-aware (UTC)")
        self.started_at = start.astimezone(UTC)
        self.geo: dict[str, GeoValue] = dict(geo or {})
        self.limits = limits or BundleLimits()
        self._tiers = set(tiers)
        self._statuses: set[str] = set()
        self._spill = spool.directory if spool is not None else None
        self._results = _MemberBuffer(RESULTS, self._spill)
        self._profiling = _MemberBuffer(PROFILING, self._spill)
        self._raw: dict[str, _MemberBuffer] = {}
        self._rejected: dict[str, Rejected] = {}
        self._finalized = False

    # -- collecting ---------------------------------------------------------------------

    @property
    def content_bytes(self) -> int:
        """Uncompressed bytes collected so far (what ``max_bundle_bytes`` bounds)."""
        raw = sum(buf.size for buf in self._raw.values())
        return self._results.size + self._profiling.size + raw

    def _reject(self, name: str, size: int, reason: str) -> None:
        # One entry per member name: a flood of rejected records stays one manifest line.
        prior = self._rejected.get(name)
        if prior is not None:
            size += prior.size_bytes
        count = prior.records + 1 if prior is not None else 1
        self._rejected[name] = Rejected(name=name, size_bytes=size, records=count, reason=reason)
        log.warning("bundle %s: left out %s (%d bytes): %s", self.run_id, name, size, reason)

    def _fits(self, name: str, size: int) -> bool:
        if self.content_bytes + size <= self.limits.max_bundle_bytes:
            return True
        self._reject(name, size, f"bundle cap of {self.limits.max_bundle_bytes} bytes reached")
        return False

    def add_result(self, result: Result) -> bool:
        """Append a probe result or escalation event; False if the size cap left it out."""
        self._check_open()
        line = (result.to_json() + "\n").encode()
        if not self._fits(RESULTS, len(line)):
            return False
        self._results.append(line, records=1)
        self._statuses.add(result.status.value)
        if result.tier is not None:
            self._tiers.add(result.tier)
        return True

    def add_profiling(self, lines: Iterable[str | Mapping[str, Any]]) -> int:
        """Append k6 NDJSON lines (text or parsed); return how many were kept.

        A line that is not a k6 ``Metric``/``Point`` object raises ValueError: that is a bug in
        the caller, not a measurement outcome.
        """
        self._check_open()
        kept = 0
        for line in lines:
            data = check_profiling(json.loads(line) if isinstance(line, str) else dict(line))
            encoded = (json.dumps(data, separators=(",", ":")) + "\n").encode()
            if self._fits(PROFILING, len(encoded)):
                self._profiling.append(encoded, records=1)
                kept += 1
        return kept

    def add_raw(self, name: str, data: bytes) -> bool:
        """Add a reference tool's raw output as ``raw/<name>``; False if a cap left it out.

        ``name`` must be one safe path component (letters, digits, ``._-``) and unique.
        """
        self._check_open()
        if not _RAW_NAME.match(name):
            raise ValueError(f"raw output name {name!r} must match {RAW_NAME_PATTERN}")
        if name in self._raw:
            raise ValueError(f"raw output {name!r} was already added to this bundle")
        member = RAW_DIR + name
        if len(data) > self.limits.max_raw_bytes:
            cap = self.limits.max_raw_bytes
            self._reject(member, len(data), f"over the raw cap of {cap} bytes")
            return False
        if not self._fits(member, len(data)):
            return False
        buf = _MemberBuffer(member, self._spill)
        buf.append(bytes(data))
        self._raw[name] = buf
        return True

    def _check_open(self) -> None:
        if self._finalized:
            raise RuntimeError(f"bundle {self.run_id} is already finalized")

    # -- writing ------------------------------------------------------------------------

    def manifest(self, finished_at: datetime) -> Manifest:
        """The manifest describing what has been collected, ending at ``finished_at``."""
        members = [self._results.member(True), self._profiling.member(True)]
        members += [self._raw[name].member(False) for name in sorted(self._raw)]
        return Manifest(
            agent=self.agent,
            run_id=self.run_id,
            tiers=sorted(self._tiers),
            started_at=self.started_at,
            finished_at=max(finished_at, self.started_at),
            software_version=__version__,
            geo=self.geo,
            status=worst_status(self._statuses),
            members=members,
            rejected=[self._rejected[k] for k in sorted(self._rejected)],
        )

    def write_archive(self, out: ByteSink, finished_at: datetime) -> Manifest:
        """Write the whole ``.tar.gz`` to ``out``; return its manifest."""
        manifest = self.manifest(finished_at)
        stamp = int(manifest.finished_at.timestamp())
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=stamp) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            head = manifest.to_bytes()
            _add(tar, MANIFEST, io.BytesIO(head), len(head), stamp)
            raw = [self._raw[name] for name in sorted(self._raw)]
            for buf in (self._results, self._profiling, *raw):
                buf.file.seek(0)
                _add(tar, buf.name, buf.file, buf.size, stamp)
        return manifest

    @property
    def filename(self) -> str:
        """The bundle's spool file name."""
        return bundle_filename(self.started_at, self.run_id)

    def render(self, finished_at: datetime) -> bytes:
        """The whole ``.tar.gz`` in memory (the same bytes :meth:`finalize` would write)."""
        out = io.BytesIO()
        self.write_archive(out, finished_at)
        return out.getvalue()

    def shed_expendable(self, reason: str, keep_raw: Iterable[str] = ()) -> int:
        """Drop the reference tools' raw outputs so the bundle fits a nearly full disk.

        What goes: every ``raw/<name>`` member not named in ``keep_raw``, and the ``raw``
        field of every record (the tool's own text or JSON, which the record's metrics and
        samples were parsed from). Measurements — metrics, samples, info, profiling — stay.
        Each drop is listed in the manifest's ``rejected`` with ``reason`` (the records' raw
        fields as one entry named ``results.ndjson#raw``). Returns the bytes shed (0: nothing
        was expendable, the bundle is unchanged).
        """
        self._check_open()
        kept = set(keep_raw)
        shed = 0
        for name in sorted(self._raw):
            if name in kept:
                continue
            buf = self._raw.pop(name)
            # no log here: the caller says so if and when the slim bundle is written
            self._rejected[buf.name] = Rejected(name=buf.name, size_bytes=buf.size, reason=reason)
            shed += buf.size
            buf.close()
        slim = _MemberBuffer(RESULTS, self._spill)
        dropped_records = dropped_bytes = 0
        self._results.file.seek(0)
        for line in self._results.file:
            result = Result.from_json(line)
            data = line
            if result.raw is not None:
                data = (result.model_copy(update={"raw": None}).to_json() + "\n").encode()
                dropped_records += 1
                dropped_bytes += len(line) - len(data)
            slim.append(data, records=1)
        if dropped_records:
            self._results.close()
            self._results = slim
            shed += dropped_bytes
            self._rejected[RESULTS + "#raw"] = Rejected(
                name=RESULTS + "#raw", size_bytes=max(dropped_bytes, 0),
                records=dropped_records, reason=reason,
            )  # fmt: skip
        else:
            slim.close()
        return shed

    def finalize(
        self, finished_at: datetime | None = None, *, keep_if_refused: bool = False
    ) -> SpoolReceipt:
        """Write the bundle atomically into the spool; return where, its SHA-256 and status.

        Never raises for a full disk or spool: the receipt says ``refused`` and a warning is
        logged. Call once; the writer is closed afterwards — unless the spool refused the
        bundle and ``keep_if_refused`` is set: the content then stays for :meth:`render` /
        :meth:`shed_expendable` (call :meth:`close` when done).
        """
        self._check_open()
        if self._spool is None:
            raise RuntimeError("this BundleWriter has no spool; use write_archive()")
        end = finished_at or utc_now()
        if end.tzinfo is None:
            raise ValueError("finished_at must be timezone-aware (UTC)")
        receipt = None
        try:
            receipt = self._spool.write_bundle(
                self.filename, lambda out: self.write_archive(out, end)
            )
            return receipt
        finally:
            if receipt is None or receipt.accepted or not keep_if_refused:
                self.close()

    def close(self) -> None:
        """Release temp buffers (a finalized or abandoned writer)."""
        self._finalized = True
        for buf in (self._results, self._profiling, *self._raw.values()):
            buf.close()
        self._raw.clear()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _add(tar: tarfile.TarFile, name: str, data: IO[bytes], size: int, stamp: int) -> None:
    # Fixed owner, mode and time: the archive's bytes depend on content alone.
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = stamp
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, data)
