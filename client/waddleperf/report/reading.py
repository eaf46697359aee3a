"""Reading and checking new bundles, in worker processes when there are many.

Each new bundle gets its id before it is read, so a worker can tag its NDJSON lines with it
(:func:`waddleperf.report.staging.tag_lines`) and write its ``store.bundles`` row
(:func:`waddleperf.report.staging.bundle_row`) while it has them in hand, and hand back only
bytes and its run id (:class:`Prepared`: no manifest object to pickle); an id of a bundle that
is skipped is never used. Local files are read by the workers themselves (the reads of
a cold page cache overlap); an S3 source's objects are fetched by its threads and handed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from waddleperf.report.sources import Candidate, Fetched, LocalSource, Source
from waddleperf.report.staging import bundle_row, tag_lines
from waddleperf.report.unpack import Skip, unpack

#: New bundles from which unpacking runs in worker processes (their start-up costs ~0.2 s).
POOL_FROM = 2000
#: Bundles handed to a worker at a time.
CHUNK = 256
#: Chunks in flight: enough to keep the workers busy while a batch loads (~16 MiB each).
AHEAD = 16
T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    """A checked bundle as the loader takes it: its run id, its ``store.bundles`` row (one
    NDJSON line) and its NDJSON members with every line tagged with its bundle id. Plain
    bytes and a string: cheap to hand from a worker process to the loader."""

    run_id: str
    row: bytes
    results: bytes
    profiling: bytes


Outcome = Prepared | str


def prepare(bundle_id: int, item: Fetched) -> Outcome:
    """The checked bundle ready for loading as ``bundle_id``, or why it is skipped."""
    if item.data is None:
        return item.error or "cannot read"
    try:
        got = unpack(item.candidate.location.rsplit("/", 1)[-1], item.data, item.sha256)
    except Skip as exc:
        return str(exc)
    row = bundle_row(bundle_id, item.candidate, got, datetime.now(UTC))
    return Prepared(got.manifest.run_id, row, tag_lines(bundle_id, got.results),
                    tag_lines(bundle_id, got.profiling))  # fmt: skip


def _prepare_fetched(items: list[tuple[int, Fetched]]) -> list[Outcome]:
    return [prepare(bundle_id, item) for bundle_id, item in items]


def _prepare_local(items: list[tuple[int, Candidate]]) -> list[Outcome]:
    return [prepare(bundle_id, LocalSource.read(cand)) for bundle_id, cand in items]


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def checked(source: Source, fresh: Sequence[Candidate], first_id: int,
            workers: int) -> Iterator[tuple[int, Candidate, Outcome]]:  # fmt: skip
    """(bundle id, candidate, outcome) of every new bundle, in order; ids from ``first_id``."""
    ids = range(first_id, first_id + len(fresh))
    if workers <= 1 or len(fresh) < POOL_FROM:
        for bundle_id, item in zip(ids, source.fetch(fresh), strict=True):
            yield bundle_id, item.candidate, prepare(bundle_id, item)
        return
    window: list[tuple[list[int], list[Candidate], Future[list[Outcome]]]] = []
    with ProcessPoolExecutor(workers) as pool:
        if isinstance(source, LocalSource):
            work: Iterator[list[tuple[int, Candidate]]] = _chunks(
                zip(ids, fresh, strict=True), CHUNK
            )
            for part in work:
                future = pool.submit(_prepare_local, part)
                window.append(([i for i, _ in part], [c for _, c in part], future))
                if len(window) > AHEAD:
                    yield from _drain(window.pop(0))
        else:
            for fetched in _chunks(zip(ids, source.fetch(fresh), strict=True), CHUNK):
                future = pool.submit(_prepare_fetched, fetched)
                window.append(([i for i, _ in fetched], [f.candidate for _, f in fetched], future))
                if len(window) > AHEAD:
                    yield from _drain(window.pop(0))
        for entry in window:
            yield from _drain(entry)


def _drain(
    entry: tuple[list[int], list[Candidate], Future[list[Outcome]]],
) -> Iterator[tuple[int, Candidate, Outcome]]:
    ids, cands, future = entry
    yield from zip(ids, cands, future.result(), strict=True)
