"""Bundle writer: round trip through the reader, determinism, caps, member order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # stubs may be absent
import pytest

from tests.support.builders import (
    T0,
    archive_bytes,
    filled_writer,
    make_result,
    members_of,
    profiling_lines,
    write_bundle,
)
from waddleperf import __version__
from waddleperf.results.bundle import BundleLimits, BundleWriter, bundle_filename
from waddleperf.results.manifest import manifest_json_schema
from waddleperf.results.reader import read_bundle, read_manifest, verify_bundle
from waddleperf.results.spool import Spool, SpoolStatus
from waddleperf.results.stores import hive_key


@pytest.fixture
def spool(tmp_path: Path):
    with Spool(tmp_path / "spool", min_free_bytes=0) as sp:
        yield sp


def test_round_trip(spool: Spool) -> None:
    receipt = write_bundle(spool, geo={"scope": "public", "country": "DE", "asn": 64500})
    assert receipt.status is SpoolStatus.STORED and receipt.path is not None
    assert receipt.path.name == bundle_filename(T0, "run-1")
    bundle = read_bundle(receipt.path)
    assert bundle.sha256 == receipt.sha256
    m = bundle.manifest
    assert (m.agent, m.run_id, m.tiers, m.software_version) == (
        "agent-1",
        "run-1",
        [1, 2],
        __version__,
    )
    assert m.started_at == T0 and m.finished_at == T0 + timedelta(minutes=1)
    assert m.geo == {"scope": "public", "country": "DE", "asn": 64500}
    assert m.status == "degraded"  # the worst of ok, degraded
    assert [x.kind for x in bundle.results] == ["probe.icmp", "probe.icmp", "autoperf.escalation"]
    assert bundle.results[0] == make_result()
    assert [p["type"] for p in bundle.profiling] == ["Metric", "Point", "Point"]
    assert bundle.raw == {
        "iperf3.json": b'{"end": {}}',
        "ping.txt": b"PING 127.0.0.1 56(84) bytes of data.\n",
    }
    assert m.count("results.ndjson") == 3 and m.count("profiling.ndjson") == 3
    assert verify_bundle(receipt.path) == m == read_manifest(receipt.path)


def test_member_order_and_manifest_schema(spool: Spool) -> None:
    receipt = write_bundle(spool)
    assert receipt.path is not None
    members = members_of(receipt.path.read_bytes())
    names = [name for name, _ in members]
    assert names == [
        "manifest.json",
        "results.ndjson",
        "profiling.ndjson",
        "raw/iperf3.json",
        "raw/ping.txt",
    ]
    manifest = json.loads(members[0][1])
    jsonschema.validate(manifest, manifest_json_schema())
    assert [m["name"] for m in manifest["members"]] == names[1:]
    assert manifest["started_at"] == "2026-11-21T23:00:00.000000Z"


def test_same_content_same_bytes() -> None:
    # Determinism is what lets a store recognise a re-upload by its checksum.
    assert archive_bytes(filled_writer(None)) == archive_bytes(filled_writer(None))
    assert archive_bytes(filled_writer(None)) != archive_bytes(filled_writer(None, run_id="run-2"))


def test_raw_over_cap_is_left_out_and_noted(spool: Spool) -> None:
    writer = filled_writer(spool, limits=BundleLimits(max_raw_bytes=100))
    assert writer.add_raw("huge.json", b"x" * 101) is False
    assert writer.add_raw("small.txt", b"x" * 100) is True
    receipt = writer.finalize(T0)
    assert receipt.path is not None
    bundle = read_bundle(receipt.path)
    assert "huge.json" not in bundle.raw and "small.txt" in bundle.raw
    [rejected] = bundle.manifest.rejected
    assert (rejected.name, rejected.size_bytes) == ("raw/huge.json", 101)
    assert "100 bytes" in rejected.reason


def test_bundle_cap_counts_left_out_records(spool: Spool) -> None:
    writer = BundleWriter(spool, agent="a", run_id="r", limits=BundleLimits(max_bundle_bytes=1000))
    kept = [writer.add_result(make_result()) for _ in range(10)]
    assert kept[0] and not kept[-1]
    receipt = writer.finalize()
    assert receipt.path is not None
    bundle = read_bundle(receipt.path)
    [rejected] = bundle.manifest.rejected
    assert rejected.name == "results.ndjson"
    assert rejected.records == 10 - sum(kept) == 10 - len(bundle.results)


def test_empty_bundle_is_valid(spool: Spool) -> None:
    receipt = BundleWriter(spool, agent="a").finalize()
    assert receipt.path is not None
    bundle = read_bundle(receipt.path)
    assert bundle.manifest.status == "empty" and bundle.results == [] and bundle.raw == {}


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 200, "sp ace"])
def test_raw_names_must_be_one_safe_component(name: str) -> None:
    with pytest.raises(ValueError, match="raw output name"):
        BundleWriter(None).add_raw(name, b"")


def test_duplicate_raw_name_and_reuse_after_finalize(spool: Spool) -> None:
    writer = BundleWriter(spool)
    writer.add_raw("a.txt", b"1")
    with pytest.raises(ValueError, match="already"):
        writer.add_raw("a.txt", b"2")
    writer.finalize()
    with pytest.raises(RuntimeError, match="already finalized"):
        writer.add_result(make_result())


@pytest.mark.parametrize(
    "line",
    ['{"type": "Sample", "metric": "x", "data": {}}', "[1]", '{"type": "Point", "data": {}}'],
)
def test_profiling_lines_must_be_k6_objects(line: str) -> None:
    with pytest.raises(ValueError):
        BundleWriter(None).add_profiling([line])


def test_profiling_accepts_parsed_lines() -> None:
    writer = BundleWriter(None)
    parsed = [json.loads(x) for x in profiling_lines(3)]
    assert writer.add_profiling(parsed) == len(parsed) == 4  # one Metric, three Points


def test_bad_run_id_and_naive_times_fail_at_once() -> None:
    with pytest.raises(ValueError, match="run id"):
        BundleWriter(None, run_id="a/b")
    with pytest.raises(ValueError, match="timezone-aware"):
        BundleWriter(None, started_at=datetime(2026, 11, 21))


def test_other_offsets_become_utc_in_names_and_manifest() -> None:
    plus2 = timezone(timedelta(hours=2))
    writer = BundleWriter(None, run_id="r", started_at=datetime(2026, 11, 22, 1, 0, tzinfo=plus2))
    manifest = writer.manifest(datetime(2026, 11, 22, 1, 5, tzinfo=plus2))
    assert hive_key(manifest) == "v1/date=2026-11-21/agent=" + writer.agent + "/r.tar.gz"
    assert bundle_filename(writer.started_at, "r").startswith("20261121T230000")
    assert manifest.model_dump(mode="json")["finished_at"] == "2026-11-21T23:05:00.000000Z"
