"""Summing a process tree's readings (pure) and reading this very process."""

from __future__ import annotations

import os

from waddleperf_common.proctree import Reading, TreeReader, total


def _reading(pid: int, **fields: object) -> Reading:
    values: dict[str, object] = {
        "cpu_pct": 10.0, "rss_bytes": 1000, "uss_bytes": 600, "threads": 2, "fds": 5,
        "io": {"read_bytes": 10, "write_bytes": 20}, "ctx_voluntary": 3, "ctx_involuntary": 1,
    }  # fmt: skip
    values.update(fields)
    return Reading(pid=pid, **values)  # type: ignore[arg-type]


def test_sums() -> None:
    sums = total([_reading(1), _reading(2, cpu_pct=30.5, io={"read_bytes": 1, "write_bytes": 2})])
    assert sums.count == 2
    assert sums.cpu_pct == 40.5
    assert (sums.rss_bytes, sums.uss_bytes, sums.threads, sums.fds) == (2000, 1200, 4, 10)
    assert sums.io == {"read_bytes": 11, "write_bytes": 22}
    assert (sums.ctx_voluntary, sums.ctx_involuntary) == (6, 2)


def test_unknown_figures() -> None:
    # a process first seen has no CPU interval yet; the others' CPU still counts
    assert total([_reading(1, cpu_pct=None), _reading(2)]).cpu_pct == 10.0
    assert total([_reading(1, cpu_pct=None)]).cpu_pct is None
    # USS is a sum only when every process gave one; I/O over those that did
    assert total([_reading(1), _reading(2, uss_bytes=None)]).uss_bytes is None
    assert total([_reading(1, io=None), _reading(2)]).io == {"read_bytes": 10, "write_bytes": 20}
    assert total([_reading(1, io=None)]).io is None


def test_no_readings() -> None:
    sums = total([])
    assert (sums.count, sums.cpu_pct, sums.rss_bytes, sums.uss_bytes, sums.io) == (
        0,
        None,
        0,
        None,
        None,
    )


def test_reads_this_process_and_primes_cpu() -> None:
    reader = TreeReader()
    first = reader.read(os.getpid())
    assert first is not None and first.cpu_pct is None  # primed: no interval yet
    kept = reader.cached[os.getpid()]
    sum(range(200_000))
    second = reader.read(os.getpid())
    assert second is not None and second.cpu_pct is not None and second.cpu_pct >= 0
    assert reader.cached[os.getpid()] is kept  # one object per pid: the interval is real
    assert second.rss_bytes > 1_000_000 and second.threads >= 1 and second.fds >= 3
    assert second.ctx_voluntary + second.ctx_involuntary >= 1
    reader.forget(())
    assert not reader.cached
