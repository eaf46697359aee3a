"""Builders for result records, bundles and deliberately broken archives."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from waddleperf.profiling import ndjson
from waddleperf.results import Result, Status
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.spool import Spool, SpoolReceipt

T0 = datetime(2026, 11, 21, 23, 0, 0, tzinfo=UTC)


def make_result(**kw: Any) -> Result:
    base: dict[str, Any] = dict(
        kind="probe.icmp",
        target="127.0.0.1",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        status=Status.OK,
        metrics={"rtt_avg_ms": 0.05, "loss_pct": 0.0},
        agent="agent-1",
        run_id="run-1",
        tier=1,
    )
    base.update(kw)
    return Result.model_validate(base)


def escalation(tier: int) -> Result:
    return make_result(
        kind="autoperf.escalation",
        target="policy",
        metrics={},
        tier=tier,
        params={"from_tier": tier - 1, "to_tier": tier, "reason": "loss over 1 %"},
    )


def profiling_lines(count: int = 2) -> list[str]:
    samples = [
        {"source": "server", "time": 1_700_000_000 + i, "cpu_pct": 1.5 * i} for i in range(count)
    ]
    return list(ndjson.lines(samples, run="run-1"))


def filled_writer(spool: Spool | None, run_id: str = "run-1", **kw: Any) -> BundleWriter:
    """A writer with two results, one escalation, profiling lines and two raw outputs."""
    writer = BundleWriter(
        spool, agent="agent-1", run_id=run_id, started_at=kw.pop("started_at", T0), **kw
    )
    writer.add_result(make_result())
    writer.add_result(
        make_result(status=Status.DEGRADED, error="one of three replies lost", tier=2)
    )
    writer.add_result(escalation(2))
    writer.add_profiling(profiling_lines())
    writer.add_raw("ping.txt", b"PING 127.0.0.1 56(84) bytes of data.\n")
    writer.add_raw("iperf3.json", b'{"end": {}}')
    return writer


def write_bundle(spool: Spool, run_id: str = "run-1", **kw: Any) -> SpoolReceipt:
    return filled_writer(spool, run_id, **kw).finalize(T0 + timedelta(minutes=1))


def archive_bytes(writer: BundleWriter) -> bytes:
    out = io.BytesIO()
    writer.write_archive(out, T0 + timedelta(minutes=1))
    return out.getvalue()


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    """Every member of a .tar.gz, in order."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar:
            src = tar.extractfile(info)
            out.append((info.name, src.read() if src else b""))
    return out


def pack(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """Write members as a .tar.gz exactly as given (for forged, broken bundles)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def edit_manifest(members: list[tuple[str, bytes]], **changes: Any) -> list[tuple[str, bytes]]:
    doc = json.loads(members[0][1])
    doc.update(changes)
    return [("manifest.json", json.dumps(doc).encode()), *members[1:]]
