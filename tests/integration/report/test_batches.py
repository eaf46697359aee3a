"""Batches of the ingest: a byte cap splits them, and how a fleet is split changes nothing in
the catalog (every table the same, row for row)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.report.conftest import COUNT
from waddleperf.report import catalog
from waddleperf.report.catalog import SCHEMA
from waddleperf.report.ingest import BATCH, BATCH_BYTES, Ingestor, Pending
from waddleperf.report.sources import LocalSource

TABLES = ("results", "events", "load", "profiling")


class Counting(Ingestor):
    """An ingestor that records the size of every batch it loads."""

    sizes: list[int]

    def _load_batch(self, batch: list[Pending]) -> None:
        self.sizes = [*getattr(self, "sizes", []), len(batch)]
        super()._load_batch(batch)


def _ingest(
    fleet: Path, batch: int = BATCH, batch_bytes: int = BATCH_BYTES
) -> tuple[list[int], dict[str, list[tuple[object, ...]]]]:
    con = catalog.connect(None)
    try:
        ingestor = Counting(con, batch=batch, batch_bytes=batch_bytes)
        report = ingestor.run([LocalSource(fleet)])
        assert report.ingested == COUNT and report.skipped == 0
        rows = {
            t: con.execute(
                f"SELECT * EXCLUDE (bundle_id) FROM {SCHEMA}.{t} ORDER BY ALL"
            ).fetchall()
            for t in TABLES
        }
        return ingestor.sizes, rows
    finally:
        con.close()


def test_a_byte_cap_splits_batches_and_changes_nothing(fleet: Path) -> None:
    whole, expected = _ingest(fleet)
    assert whole == [COUNT]
    per_bundle = max(p.stat().st_size for p in fleet.rglob("*.tar.gz"))  # compressed: smaller
    split, rows = _ingest(fleet, batch_bytes=per_bundle * 8)
    assert len(split) > 3 and sum(split) == COUNT and max(split) < COUNT
    by_count, rows_by_count = _ingest(fleet, batch=7)
    assert by_count[:-1] == [7] * (len(by_count) - 1) and sum(by_count) == COUNT
    assert rows == expected and rows_by_count == expected
    assert all(expected[t] for t in ("results", "events", "load", "profiling"))
