"""The UI's handle on the report catalog: one DuckDB connection, a cursor per call.

The UI process owns its catalog file (``waddleperf report`` on the same file waits for the
UI to stop: DuckDB lets one process write). Each call gets its own cursor with the report's
views over every bundle, limited to the call's filters (:func:`waddleperf.report.scope
.create_views`), so threads never share temp views. Answers are cached per catalog
generation (changed by :meth:`Catalog.ingest`), so repeated page loads cost a dictionary look-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from waddleperf.report import catalog
from waddleperf.report.scope import Filters, create_views

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
#: The answer cache's bounds: entries, and bytes of the texts it holds (other answers count
#: :data:`OTHER_WEIGHT` each). A week's charts of a 60-series fleet are about 0.5 MB of JSON.
CACHE_ENTRIES, CACHE_BYTES, OTHER_WEIGHT = 256, 64 << 20, 16 << 10


def _weight(value: object) -> int:
    return len(value) if isinstance(value, str | bytes) else OTHER_WEIGHT


class Catalog:
    """The catalog at ``path`` (None: in memory, for tests), opened once."""

    def __init__(self, path: Path | None, threads: int | None = None) -> None:
        self.path = path
        self._con = catalog.connect(path, threads)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_bytes = 0
        self.generation = 0

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own (closed after use)."""
        cur = self._con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur
        finally:
            cur.close()

    @contextmanager
    def scoped(self, filters: Filters) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor with the views ``bundles``, ``results``, ``events`` … under ``filters``."""
        with self.cursor() as cur:
            cur.execute(f"CREATE OR REPLACE TEMP VIEW scope AS SELECT bundle_id FROM "
                        f"{catalog.SCHEMA}.bundles")  # fmt: skip
            create_views(cur, filters)
            yield cur

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` until the catalog changes."""
        full = (self.generation, *key)
        with self._lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                value: T = self._cache[full]
                return value
        value = compute()
        with self._lock:
            if full not in self._cache:
                self._cache[full] = value
                self._cache_bytes += _weight(value)
            while self._cache and (len(self._cache) > CACHE_ENTRIES
                                   or self._cache_bytes > CACHE_BYTES):  # fmt: skip
                self._cache_bytes -= _weight(self._cache.popitem(last=False)[1])
        return value

    def ingest(self, sources: Sequence[str], endpoint_url: str | None = None) -> dict[str, int]:
        """Read new bundles of ``sources`` (as ``waddleperf report`` does); counts."""
        from waddleperf.report.ingest import ingest
        from waddleperf.report.sources import open_source

        with self._lock:
            with self.cursor() as cur:
                found = ingest(cur, [open_source(s, endpoint_url) for s in sources])
            self.generation += 1
            self._cache.clear()
            self._cache_bytes = 0
        return {"listed": found.listed, "ingested": found.ingested, "known": found.known,
                "skipped": found.skipped}  # fmt: skip
