"""Spool: lock, crash leftovers, order, size limit, disk floor, persisted state."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.builders import T0, write_bundle
from waddleperf.results.reader import verify_bundle
from waddleperf.results.spool import STATE_FILE, Spool, SpoolLockedError, SpoolStatus


def test_second_agent_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    locked = pytest.raises(SpoolLockedError, match=r"in use by another agent \(pid \d+\)")
    with Spool(tmp_path, min_free_bytes=0), locked:
        Spool(tmp_path).open()
    with Spool(tmp_path, min_free_bytes=0):  # released on close
        pass


def test_unopened_spool_refuses_use(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        write_bundle(Spool(tmp_path))


def test_leftover_temp_files_are_removed_at_open(tmp_path: Path) -> None:
    tmp_path.joinpath(".20261121_x.tar.gz.123.ab12cd34.tmp").write_bytes(b"partial")
    tmp_path.joinpath(".member.abc.tmp").write_bytes(b"partial")
    keep = tmp_path / "notes.txt"
    keep.write_text("not ours")
    with Spool(tmp_path, min_free_bytes=0) as spool:
        assert not list(tmp_path.glob("*.tmp")) and keep.exists()
        assert spool.bundles() == []


def test_bundles_are_listed_oldest_first(tmp_path: Path) -> None:
    with Spool(tmp_path, min_free_bytes=0) as spool:
        for i, minutes in enumerate([5, 1, 3]):
            write_bundle(spool, run_id=f"r{i}", started_at=T0 + timedelta(minutes=minutes))
        assert [p.name.split("_")[1] for p in spool.bundles()] == [
            "r1.tar.gz",
            "r2.tar.gz",
            "r0.tar.gz",
        ]


def test_over_the_size_limit_still_stores_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(tmp_path, max_bytes=1, min_free_bytes=0) as spool:
        caplog.set_level(logging.WARNING)
        receipt = write_bundle(spool)
        assert receipt.status is SpoolStatus.STORED_OVER_LIMIT and receipt.accepted
        assert receipt.path is not None and verify_bundle(receipt.path)
        assert "over its limit" in caplog.text and "nothing is evicted" in receipt.message


def test_below_the_disk_floor_refuses_counts_and_keeps_old_bundles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(tmp_path, min_free_bytes=0) as spool:
        kept = write_bundle(spool, run_id="old")
        spool.min_free_bytes = spool.free_bytes() * 2  # the floor is out of reach
        caplog.set_level(logging.WARNING)
        receipt = write_bundle(spool, run_id="new")
        assert receipt.status is SpoolStatus.REFUSED and not receipt.accepted
        assert receipt.path is None and "below the floor" in receipt.message
        assert "REFUSED" in caplog.text and spool.refused_total == 1
        assert spool.bundles() == [kept.path]
        assert not list(tmp_path.glob(".*.tmp"))
    with Spool(tmp_path, min_free_bytes=0) as again:
        assert again.refused_total == 1  # counted across restarts


def test_failure_state_survives_reopen_and_damage(tmp_path: Path) -> None:
    with Spool(tmp_path, min_free_bytes=0) as spool:
        receipt = write_bundle(spool)
        assert receipt.path is not None
        spool.record_failure(receipt.path, "connection refused", next_try=1234.5)
        spool.record_failure(receipt.path, "connection refused again", next_try=2345.5)
    with Spool(tmp_path, min_free_bytes=0) as spool:
        entry = spool.entry(receipt.path)
        assert (entry.attempts, entry.next_try, entry.last_error) == (
            2,
            2345.5,
            "connection refused again",
        )
    (tmp_path / STATE_FILE).write_text("{broken")
    with Spool(tmp_path, min_free_bytes=0) as spool:
        assert spool.entry(receipt.path).attempts == 0  # back-off reset, bundle untouched
        assert spool.bundles() == [receipt.path]


def test_remove_and_quarantine(tmp_path: Path) -> None:
    with Spool(tmp_path, min_free_bytes=0) as spool:
        a = write_bundle(spool, run_id="a").path
        b = write_bundle(spool, run_id="b").path
        assert a is not None and b is not None
        spool.record_failure(a, "x", 0)
        spool.remove(a)
        moved = spool.quarantine(b, "bad checksum")
        assert spool.bundles() == [] and spool.quarantined() == [moved] and moved.exists()
        assert "a.tar.gz" not in (tmp_path / STATE_FILE).read_text()


def test_bad_names_are_programming_errors(tmp_path: Path) -> None:
    with Spool(tmp_path, min_free_bytes=0) as spool:
        for name in ("x.zip", "../x.tar.gz", ".x.tar.gz"):
            with pytest.raises(ValueError):
                spool.write_bundle(name, lambda out: None)
        write_bundle(spool)
        with pytest.raises(FileExistsError):
            write_bundle(spool)
