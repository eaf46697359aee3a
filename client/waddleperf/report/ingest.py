"""Reading sources into the catalog: only what is new, in batches, never stopping on a bad one.

For each source the listing is compared with the catalog (location and size): a bundle seen
before — ingested or skipped — is not read again; a changed one (other size) is read again.
New bundles are fetched, checked (:mod:`waddleperf.report.unpack`), checked for duplicates
(a run id the catalog already holds from another location, or twice in this run) and loaded in
batches (:mod:`waddleperf.report.staging`), one transaction per batch. A batch DuckDB cannot
parse is split in halves until the bundle at fault is found and skipped with DuckDB's reason.
Every skipped bundle is remembered in ``store.skipped`` so that each later report lists it too.

The result is the *scope* of this run: the bundle ids its sources hold (temp table ``scope``)
and the skipped ones (``scope_skipped``), which the report's views are limited to.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from waddleperf.report.catalog import SCHEMA
from waddleperf.report.reading import Prepared, checked
from waddleperf.report.sources import Candidate, Source
from waddleperf.report.staging import (
    Staging,
    drop_staged,
    insert_bundles,
    insert_staged,
    invalid_bundles,
    stage,
)

if TYPE_CHECKING:
    import duckdb

#: Most bundles per batch (a transaction). Large enough that a batch of typical bundles
#: (~15 records) fills DuckDB row groups (122 880 rows), which are then written straight to
#: the file instead of through the write-ahead log: ~20 % less work than batches of 4 000.
BATCH = 10_000
#: Most NDJSON bytes per batch, whatever the count: bounds the memory a batch takes.
BATCH_BYTES = 256 << 20


@dataclass
class Pending:
    """A checked bundle waiting for its batch."""

    bundle_id: int
    candidate: Candidate
    prepared: Prepared


@dataclass
class IngestReport:
    """What one run did, for people and the benchmark."""

    listed: int = 0
    known: int = 0
    read: int = 0
    ingested: int = 0
    skipped: int = 0
    rows: int = 0
    seconds: float = 0.0
    scope: set[int] = field(default_factory=set)
    scope_skipped: set[str] = field(default_factory=set)


class Ingestor:
    """Brings a catalog up to date with some sources."""

    def __init__(self, con: duckdb.DuckDBPyConnection, staging: Staging = "ndjson",
                 batch: int = BATCH, workers: int = 1,
                 batch_bytes: int = BATCH_BYTES) -> None:  # fmt: skip
        self.con = con
        self.staging = staging
        self.batch = batch
        self.batch_bytes = batch_bytes
        self.workers = workers
        self.report = IngestReport()
        s = SCHEMA
        self._known = {loc: (size, bid) for loc, size, bid in con.execute(
            f"SELECT location, size_bytes, bundle_id FROM {s}.bundles").fetchall()}  # fmt: skip
        self._skipped = {loc: (size, dup) for loc, size, dup in con.execute(
            f"SELECT location, size_bytes, duplicate_of FROM {s}.skipped").fetchall()}  # fmt: skip
        self._runs: dict[str, tuple[int, str]] = {
            run: (bid, loc) for run, bid, loc in con.execute(
                f"SELECT run_id, bundle_id, location FROM {s}.bundles").fetchall()
        }  # fmt: skip
        top = con.execute(f"SELECT coalesce(max(bundle_id), 0) FROM {s}.bundles").fetchall()
        self._next_id = int(top[0][0]) + 1

    # -- deciding what to read ------------------------------------------------------------

    def _new(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        fresh: list[Candidate] = []
        seen: set[str] = set()
        listed = 0
        for cand in candidates:
            if cand.location in seen:
                continue  # two source arguments naming the same bundle
            seen.add(cand.location)
            listed += 1
            known = self._known.get(cand.location)
            if known is not None and known[0] == cand.size:
                self.report.scope.add(known[1])
                continue
            skipped = self._skipped.get(cand.location)
            if skipped is not None and skipped[0] == cand.size:
                self.report.scope_skipped.add(cand.location)
                if skipped[1] is not None:
                    self.report.scope.add(int(skipped[1]))
                continue
            if known is not None or skipped is not None:
                self._forget(cand.location, known[1] if known else None)
            fresh.append(cand)
        self.report.listed += listed
        self.report.known += listed - len(fresh)
        return fresh

    def _forget(self, location: str, bundle_id: int | None) -> None:
        """A bundle changed since it was catalogued: drop what it gave."""
        s = SCHEMA
        self.con.execute(f"DELETE FROM {s}.skipped WHERE location = ?", [location])
        self._skipped.pop(location, None)
        if bundle_id is not None:
            for table in ("results", "events", "load", "profiling", "bundles"):
                self.con.execute(f"DELETE FROM {s}.{table} WHERE bundle_id = ?", [bundle_id])
            self._known.pop(location, None)
            self._runs = {r: v for r, v in self._runs.items() if v[0] != bundle_id}

    # -- reading --------------------------------------------------------------------------

    def run(self, sources: Sequence[Source]) -> IngestReport:
        """Catalog every new bundle of ``sources``; return the run's report and scope."""
        start = time.perf_counter()
        for source in sources:
            fresh = self._new(source.list())
            batch: list[Pending] = []
            held = 0
            first_id = self._next_id
            self._next_id += len(fresh)
            for bundle_id, cand, outcome in checked(source, fresh, first_id, self.workers):
                self.report.read += 1
                if isinstance(outcome, str):
                    self._skip(cand, outcome)
                    continue
                run_id = outcome.run_id
                first = self._runs.get(run_id)
                if first is not None:
                    self._skip(cand, f"duplicate: run {run_id} is already in {first[1]}", first[0])
                    continue
                pending = Pending(bundle_id, cand, outcome)
                self._runs[run_id] = (pending.bundle_id, cand.location)
                batch.append(pending)
                held += len(outcome.results) + len(outcome.profiling)
                if len(batch) >= self.batch or held >= self.batch_bytes:
                    self._load(batch)
                    batch, held = [], 0
            if batch:
                self._load(batch)
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _skip(self, cand: Candidate, reason: str, duplicate_of: int | None = None) -> None:
        self.con.execute(
            f"INSERT OR REPLACE INTO {SCHEMA}.skipped VALUES (?, ?, ?, ?, ?, ?)",
            [cand.location, cand.source, cand.size, reason, duplicate_of, datetime.now(UTC)],
        )
        self._skipped[cand.location] = (cand.size, duplicate_of)
        self.report.skipped += 1
        self.report.scope_skipped.add(cand.location)
        if duplicate_of is not None:
            self.report.scope.add(duplicate_of)

    # -- loading --------------------------------------------------------------------------

    def _load(self, batch: list[Pending]) -> None:
        import duckdb

        try:
            self._load_batch(batch)
        except duckdb.Error as exc:
            self.con.execute("ROLLBACK")
            if len(batch) == 1:
                first = str(exc).splitlines()[0]
                self._unrun(batch[0])
                self._skip(batch[0].candidate, f"records do not fit the tables: {first}")
                return
            half = len(batch) // 2
            self._load(batch[:half])
            self._load(batch[half:])

    def _unrun(self, pending: Pending) -> None:
        self._runs.pop(pending.prepared.run_id, None)

    def _load_batch(self, batch: list[Pending]) -> None:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        results = [p.prepared.results for p in batch]
        profiling = [p.prepared.profiling for p in batch]
        stage(con, self.staging, results, profiling)
        bad = invalid_bundles(con)
        drop_staged(con, bad)
        keep = [p for p in batch if p.bundle_id not in bad]
        self._insert_bundles(keep)
        rows = insert_staged(con)
        for pending in batch:
            if pending.bundle_id in bad:
                self._unrun(pending)
                self._skip(pending.candidate, bad[pending.bundle_id])
        con.execute("COMMIT")
        for pending in keep:
            self._known[pending.candidate.location] = (pending.candidate.size, pending.bundle_id)
            self.report.scope.add(pending.bundle_id)
        self.report.ingested += len(keep)
        self.report.rows += rows

    def _insert_bundles(self, batch: list[Pending]) -> None:
        if batch:
            insert_bundles(self.con, self.staging, b"".join(p.prepared.row for p in batch))


def default_workers() -> int:
    """Unpacking processes for a large run: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def ingest(con: duckdb.DuckDBPyConnection, sources: Sequence[Source], staging: Staging = "ndjson",
           workers: int | None = None, scope: str = "scope") -> IngestReport:  # fmt: skip
    """Catalog the new bundles of ``sources``; record the run's scope in temp tables ``scope``
    (bundle ids) and ``{scope}_skipped`` (locations)."""
    report = Ingestor(con, staging, workers=workers or default_workers()).run(sources)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {scope} (bundle_id BIGINT)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {scope}_skipped (location VARCHAR)")
    if report.scope:
        con.execute(f"INSERT INTO {scope} SELECT unnest(?)", [sorted(report.scope)])
    if report.scope_skipped:
        con.execute(f"INSERT INTO {scope}_skipped SELECT unnest(?)", [sorted(report.scope_skipped)])
    return report
