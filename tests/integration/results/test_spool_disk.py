"""A spool on a nearly full file system (a 2 MiB tmpfs): warnings and refusals, no crash,
nothing lost, and room again once the uploader drained it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.builders import filled_writer
from tests.support.tmpfs import small_tmpfs
from waddleperf.results.reader import verify_bundle
from waddleperf.results.spool import Spool, SpoolReceipt, SpoolStatus
from waddleperf.results.stores.local import LocalStore
from waddleperf.results.uploader import Uploader

KiB = 1024


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "mnt") as mnt:
        yield mnt


def _bundle(spool: Spool, i: int, raw_kib: int) -> SpoolReceipt:
    writer = filled_writer(spool, run_id=f"d{i:02d}")
    writer.add_raw("noise.bin", os.urandom(raw_kib * KiB))  # random: gzip cannot shrink it
    return writer.finalize()


def test_nearly_full_disk_refuses_with_warning_and_loses_nothing(
    small_fs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with Spool(small_fs / "spool", max_bytes=700 * KiB, min_free_bytes=400 * KiB) as spool:
        receipts = [_bundle(spool, i, 300) for i in range(8)]
        statuses = [r.status for r in receipts]
        assert statuses[0] is SpoolStatus.STORED
        assert SpoolStatus.STORED_OVER_LIMIT in statuses  # past 700 KiB: kept, with a warning
        refused = [r for r in receipts if r.status is SpoolStatus.REFUSED]
        assert refused and spool.refused_total == len(refused)
        assert "over its limit" in caplog.text and "REFUSED" in caplog.text
        kept = spool.bundles()
        assert len(kept) == len(receipts) - len(refused)
        assert all(verify_bundle(p) for p in kept)
        assert not list((small_fs / "spool").glob(".*.tmp"))

        # Even without a floor, a bundle bigger than the disk is refused (ENOSPC), not raised.
        spool.min_free_bytes = 0
        too_big = _bundle(spool, 90, 3 * KiB)
        assert too_big.status is SpoolStatus.REFUSED and "write failed" in too_big.message
        assert spool.bundles() == kept and not list((small_fs / "spool").glob(".*.tmp"))

        store = LocalStore(tmp_path / "store")
        assert Uploader(spool, store).drain_once().drained
        assert len(store.list()) == len(kept)
        spool.min_free_bytes = 400 * KiB
        assert _bundle(spool, 99, 300).status is SpoolStatus.STORED  # room again
