"""The real agent with its spool on a nearly full 2 MiB tmpfs: a clear warning, no crash, every
cycle's bundle kept in memory until the store (straight from memory) or the spool takes it, then
stored — each exactly once."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.agentconf import AgentRun, quick_tiers, server_entry, write_agent
from tests.support.builders import T0, make_result
from tests.support.tmpfs import small_tmpfs
from waddleperf.autoperf.bundles import BundleSink
from waddleperf.localstack import LocalServer
from waddleperf.results.geo import GeoTagger
from waddleperf.results.pending import Limits
from waddleperf.results.reader import read_bundle, verify_bundle
from waddleperf.results.spool import Spool
from waddleperf.results.stores.local import LocalStore

KiB = 1024
FLOOR = 512 * KiB
KEPT = re.compile(r"bundle (\S+\.tar\.gz) kept in memory, not lost")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "mnt") as mnt:
        yield mnt


def _wait(what: str, ok: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _tier1_agent(
    tmp_path: Path, small_fs: Path, server: LocalServer, store: Path | None = None
) -> AgentRun:
    """An agent with one short tcp probe per cycle, its spool on the small file system."""
    tiers = quick_tiers(
        tier1={"probes": [{"probe": "tcp", "options": {"count": 2}}]},
        tier2={"probes": []},
        tier3={"probes": [], "load": False},
    )
    return write_agent(tmp_path, {
        "servers": [server_entry(server)], "tiers": tiers,
        "storage": {"spool_dir": str(small_fs / "spool"),
                    "store": {"dir": str(store or tmp_path / "store")},
                    "spool_max_bytes": 1 << 20, "spool_min_free_bytes": FLOOR},
    })  # fmt: skip


def test_full_spool_disk_keeps_bundles_in_memory_until_room(
    tmp_path: Path, small_fs: Path, server: LocalServer
) -> None:
    run = _tier1_agent(tmp_path, small_fs, server)
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (1800 * KiB))  # leaves ~250 KiB free: below the 512 KiB floor

    proc = run.popen("--json")
    err: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: err.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        # two cycles refused: both kept in memory, in order, with a warning each time
        _wait("two pending bundles", lambda: len(KEPT.findall("".join(err))) >= 2)
        pending = KEPT.findall("".join(err))
        assert proc.poll() is None  # no crash
        assert not list((small_fs / "spool").glob("*.tar.gz"))
        filler.unlink()  # room again: the next cycle (or upload) writes them, oldest first
        store = tmp_path / "store"
        _wait("the pending bundles in the store",
              lambda: len(list(store.rglob("*.tar.gz"))) >= len(pending) + 1)  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    text = "".join(err)
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "DROPPED" not in text
    assert "spool disk nearly full" in text and "pending in memory" in text

    cycles = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    run_ids = [c["run_id"] for c in cycles]
    assert len(run_ids) >= len(pending) + 1
    stored = sorted(store.rglob("*.tar.gz"))
    spooled = sorted((small_fs / "spool").glob("*.tar.gz"))
    stored_ids = [p.name.removesuffix(".tar.gz") for p in stored]
    spooled_ids = [p.name.removesuffix(".tar.gz").split("_", 1)[1] for p in spooled]
    # every cycle's bundle exactly once: nothing lost, nothing stored twice
    assert sorted(stored_ids + spooled_ids) == sorted(run_ids)
    for name in pending:
        assert name.removesuffix(".tar.gz").split("_", 1)[1] in stored_ids
    for path in stored + spooled:
        manifest = verify_bundle(path)
        assert not manifest.rejected  # room came back: the full bundles, nothing shed


def test_once_on_a_full_disk_with_the_store_down_exits_1_and_says_the_bundle_is_lost(
    tmp_path: Path, small_fs: Path, server: LocalServer
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's directory should be: every put fails")
    run = _tier1_agent(tmp_path, small_fs, server, store=blocker / "store")
    (small_fs / "filler").write_bytes(b"\0" * (1800 * KiB))  # below the floor, and it stays
    proc = run.popen("--once")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # a lost bundle is never a success
    assert KEPT.search(err) and "DROPPED" in err, err
    assert "(held in memory) failed" in err
    assert "kept in memory since start: 1 (stored straight from memory: 0" in err
    assert "dropped, their results lost: 1" in err


def test_once_on_a_full_disk_stores_the_bundle_straight_from_memory(
    tmp_path: Path, small_fs: Path, server: LocalServer
) -> None:
    run = _tier1_agent(tmp_path, small_fs, server)
    (small_fs / "filler").write_bytes(b"\0" * (1800 * KiB))  # below the floor, and it stays
    proc = run.popen("--once")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (kept,) = KEPT.findall(err)
    assert f"pending bundle {kept} is in the store now, sent straight from memory" in err
    assert "DROPPED" not in err and "dropped, their results lost: 0" in err
    (stored,) = (tmp_path / "store").rglob("*.tar.gz")
    assert stored.name == kept.split("_", 1)[1]
    verify_bundle(stored)
    assert not list((small_fs / "spool").glob("*.tar.gz"))


# -- the production sink on the same small disk, driven directly ---------------------------


def _sink(small_fs: Path, tmp_path: Path, **limits: int) -> BundleSink:
    spool = Spool(small_fs / "spool", max_bytes=1 << 20, min_free_bytes=FLOOR).open()
    pending = Limits(limits.get("max_bytes", 8 << 20), limits.get("max_bundles", 10))
    return BundleSink(spool, LocalStore(tmp_path / "store"), GeoTagger(), background=False,
                      pending=pending, agent="agent-1")  # fmt: skip


def _cycle(sink: BundleSink, i: int, raw: str | None = None) -> str:
    run_id = f"c{i:02d}"
    out = sink.begin_cycle("agent-1", run_id, T0 + timedelta(minutes=i))
    out.add_result(make_result(run_id=run_id, raw=raw))
    out.add_raw("autoperf-cycle.json", b"{}")
    out.add_raw("load-x-locust-summary.json", b"{}")
    return out.finish()


def _fill(small_fs: Path, leave: int) -> Path:
    filler = small_fs / "filler"
    filler.unlink(missing_ok=True)
    free = shutil.disk_usage(small_fs).free
    filler.write_bytes(b"\0" * max(free - leave, 0))
    return filler


def test_raw_outputs_are_shed_when_only_that_fits(
    small_fs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    sink = _sink(small_fs, tmp_path)
    _fill(small_fs, FLOOR + 200 * KiB)  # 200 KiB of headroom
    big = base64.b64encode(os.urandom(300 * KiB)).decode()  # ~300 KiB even gzipped
    where = _cycle(sink, 1, raw=big)
    (path,) = sink.spool.bundles()
    assert where == str(path) and not sink.pending
    manifest = verify_bundle(path)
    reasons = {r.name: r.reason for r in manifest.rejected}
    assert set(reasons) == {"results.ndjson#raw", "raw/load-x-locust-summary.json"}
    assert "spool disk nearly full" in reasons["results.ndjson#raw"]
    assert manifest.member("raw/autoperf-cycle.json") is not None  # the summary stays
    assert "WITHOUT its raw tool outputs" in caplog.text
    sink.close()
    assert len(LocalStore(tmp_path / "store").list()) == 1


def test_memory_bound_drops_oldest_with_error_and_a_record(
    small_fs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    sink = _sink(small_fs, tmp_path, max_bundles=1)
    filler = _fill(small_fs, FLOOR // 2)
    assert _cycle(sink, 1).startswith("pending in memory")
    assert _cycle(sink, 2).startswith("pending in memory")  # pushes c01 out
    assert "c01.tar.gz (" in caplog.text and "DROPPED" in caplog.text
    assert [r.levelname for r in caplog.records if "DROPPED" in r.message] == ["ERROR"]
    assert sink.pending.names()[0].endswith("_c02.tar.gz") and sink.pending.dropped_total == 1
    filler.unlink()
    _cycle(sink, 3)  # c02 first, then c03, which carries the record of c01's loss
    names = [p.name.split("_", 1)[1] for p in sink.spool.bundles()]
    assert names == ["c02.tar.gz", "c03.tar.gz"] and not sink.pending
    sink.close()
    store = LocalStore(tmp_path / "store")
    (c03,) = [k for k in store.list() if k.endswith("c03.tar.gz")]
    records = read_bundle(tmp_path / "store" / c03).results
    (drop,) = [r for r in records if r.kind == "autoperf.bundle_dropped"]
    assert drop.info["bundle"] and str(drop.info["bundle"]).endswith("_c01.tar.gz")
    assert drop.metrics["dropped_count"] == 1 and drop.error


def test_pending_goes_out_once_an_upload_frees_space_and_at_close(
    small_fs: Path, tmp_path: Path
) -> None:
    sink = _sink(small_fs, tmp_path)
    first = _cycle(sink, 1, raw=base64.b64encode(os.urandom(200 * KiB)).decode())
    assert first.endswith("_c01.tar.gz")  # in the spool, holding ~200 KiB
    filler = _fill(small_fs, FLOOR // 2)
    assert _cycle(sink, 2).startswith("pending in memory")
    filler.unlink()
    _fill(small_fs, FLOOR + 100 * KiB - 200 * KiB)  # room only once c01 is uploaded
    assert sink.spool.headroom() < 64 * KiB
    report = sink.uploader.drain_once()  # c01 leaves the spool → c02 is written at once
    assert report.uploaded == [Path(first).name] and not sink.pending
    assert [p.name.split("_", 1)[1] for p in sink.spool.bundles()] == ["c02.tar.gz"]
    _fill(small_fs, FLOOR // 2)
    assert _cycle(sink, 3).startswith("pending in memory")
    (small_fs / "filler").unlink()
    sink.close(drain=False)  # as on SIGTERM: pending tried once more, left in the spool
    names = sorted(p.name for p in (small_fs / "spool").glob("*.tar.gz"))
    assert [n.split("_", 1)[1] for n in names] == ["c02.tar.gz", "c03.tar.gz"]


def test_zero_bound_drops_at_once_loudly(
    small_fs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _sink(small_fs, tmp_path, max_bundles=0)
    _fill(small_fs, FLOOR // 2)
    with pytest.raises(RuntimeError, match="was dropped"):  # the daemon logs it; output None
        _cycle(sink, 1)
    assert "DROPPED" in caplog.text and sink.pending.dropped_total == 1
    (small_fs / "filler").unlink()
    assert _cycle(sink, 2).endswith("_c02.tar.gz")
    (path,) = sink.spool.bundles()
    kinds = [r.kind for r in read_bundle(path).results]
    assert "autoperf.bundle_dropped" in kinds
    sink.close(drain=False)
