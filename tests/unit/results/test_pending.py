"""The pending queue's decisions (pure) and shedding a bundle's raw tool outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builders import T0, make_result
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.manifest import RESULTS
from waddleperf.results.pending import (
    Choice,
    Limits,
    PendingBundle,
    PendingQueue,
    choose,
)
from waddleperf.results.reader import read_bundle


def entry(name: str, full: int, slim: int | None = None) -> PendingBundle:
    return PendingBundle(name, b"f" * full, None if slim is None else b"s" * slim)


def test_choose_full_then_slim_then_wait() -> None:
    e = entry("a", 1000, 100)
    assert choose(e, 1000, slack=0) is Choice.FULL
    assert choose(e, 999, slack=0) is Choice.SLIM
    assert choose(e, 99, slack=0) is Choice.WAIT
    assert choose(e, 1050, slack=100) is Choice.SLIM  # slack counts
    assert choose(entry("b", 1000), 500, slack=0) is Choice.WAIT  # nothing to shed
    assert choose(e, -5, slack=0) is Choice.WAIT  # below the floor already


def test_queue_keeps_order_and_only_the_head_is_written() -> None:
    q = PendingQueue(Limits(max_bytes=10_000, max_bundles=10))
    for name, size in (("a", 500), ("b", 10), ("c", 20)):
        assert q.add(entry(name, size)) == []
    assert q.names() == ["a", "b", "c"] and q.held_bytes == 530 and len(q) == 3
    head, choice = q.next_write(100, slack=0)
    assert head.name == "a" and choice is Choice.WAIT  # b would fit, but it must not overtake
    with pytest.raises(ValueError, match="not the oldest"):
        q.written("b")
    assert q.written("a").name == "a"
    assert q.next_write(100, slack=0) == (q.head(), Choice.FULL)
    assert q.names() == ["b", "c"] and q.held_bytes == 30


def test_bounds_drop_the_oldest_and_count_it() -> None:
    q = PendingQueue(Limits(max_bytes=1000, max_bundles=2))
    assert q.add(entry("a", 100)) == [] and q.add(entry("b", 100)) == []
    dropped = q.add(entry("c", 100))  # count bound
    assert [d.name for d in dropped] == ["a"] and q.names() == ["b", "c"]
    dropped = q.add(entry("d", 700, 150))  # byte bound: 100 + 100 + 850 > 1000
    assert [d.name for d in dropped] == ["b"] and q.names() == ["c", "d"]
    assert q.dropped_total == 2 and q.held_bytes == 950
    too_big = entry("e", 2000)
    assert q.add(too_big) == [too_big] and q.names() == ["c", "d"]  # older ones stay
    assert q.dropped_total == 3


def test_zero_bound_keeps_nothing_and_duplicates_are_ignored() -> None:
    q = PendingQueue(Limits(max_bytes=1000, max_bundles=0))
    e = entry("a", 1)
    assert q.add(e) == [e] and not q and q.dropped_total == 1
    q = PendingQueue(Limits(max_bytes=1000, max_bundles=5))
    assert q.add(entry("a", 1)) == [] and q.add(entry("a", 1)) == [] and len(q) == 1
    assert [e.name for e in q.take_all()] == ["a"] and not q and q.held_bytes == 0
    with pytest.raises(IndexError):
        q.next_write(10)
    with pytest.raises(ValueError):
        Limits(max_bytes=-1, max_bundles=1)


def test_shedding_drops_raw_outputs_keeps_measurements_and_says_so(tmp_path: Path) -> None:
    writer = BundleWriter(None, agent="a", run_id="r1", started_at=T0)
    writer.add_result(make_result(raw="PING 127.0.0.1 " * 200))
    writer.add_result(make_result(kind="probe.tcp"))
    writer.add_raw("autoperf-cycle.json", b"{}")
    writer.add_raw("iperf3.json", b"x" * 5000)
    assert not writer.manifest(T0).rejected
    shed = writer.shed_expendable("disk nearly full", keep_raw=["autoperf-cycle.json"])
    assert shed > 5000
    path = tmp_path / "slim.tar.gz"
    path.write_bytes(writer.render(T0))
    slim = read_bundle(path)  # a valid bundle
    assert [m.name for m in slim.manifest.members] == [
        RESULTS, "profiling.ndjson", "raw/autoperf-cycle.json"
    ]  # fmt: skip
    rejected = {r.name: r for r in slim.manifest.rejected}
    assert set(rejected) == {"raw/iperf3.json", RESULTS + "#raw"}
    assert rejected[RESULTS + "#raw"].records == 1
    assert all(r.reason == "disk nearly full" for r in rejected.values())
    assert [r.raw for r in slim.results] == [None, None]
    assert slim.results[0].metrics == make_result().metrics  # measurements kept
    assert writer.shed_expendable("again", keep_raw=["autoperf-cycle.json"]) == 0
    writer.close()


def test_an_entry_over_the_byte_bound_is_reduced_before_it_is_dropped() -> None:
    q = PendingQueue(Limits(max_bytes=1000, max_bundles=5))
    assert q.add(entry("a", 900, 300)) == []  # 1200 held: the slim copy is given up
    (a,) = q
    assert a.slim is None and len(a.full) == 900 and not a.full_is_slim
    q = PendingQueue(Limits(max_bytes=500, max_bundles=5))
    assert q.add(entry("b", 900, 300)) == []  # only the slim archive fits the bound
    (b,) = q
    assert b.full == b"s" * 300 and b.full_is_slim and q.held_bytes == 300
    assert q.add(entry("c", 900, 600)) != [] and q.names() == ["b"]  # nothing fits: dropped


def test_a_claimed_entry_waits_for_the_store_and_is_not_evicted() -> None:
    q = PendingQueue(Limits(max_bytes=10_000, max_bundles=2))
    q.add(entry("a", 10))
    q.add(entry("b", 10))
    claimed = q.claim("a")
    assert claimed is not None and claimed.name == "a" and q.claimed("a")
    assert q.claim("a") is None and q.claim("zz") is None  # once, and only what is queued
    assert q.next_write(10_000, slack=0)[1] is Choice.WAIT  # the spool leaves it alone
    dropped = q.add(entry("c", 10))  # over the count bound: not the one in flight
    assert [d.name for d in dropped] == ["b"] and q.names() == ["a", "c"]
    q.release("a")
    assert not q.claimed("a") and q.next_write(10_000, slack=0)[1] is Choice.FULL
    q.claim("c")
    assert q.stored("c").name == "c" and q.names() == ["a"] and q.held_bytes == 10
    with pytest.raises(KeyError):
        q.stored("c")
    assert q.written("a").name == "a" and not q


def test_counts_since_start_say_where_each_kept_bundle_went() -> None:
    q = PendingQueue(Limits(max_bytes=10_000, max_bundles=2))
    for name in "abcd":
        q.add(entry(name, 10))  # a and b are pushed out by c and d
    q.claim("c")
    q.stored("c")
    q.written("d")
    assert (q.kept_total, q.dropped_total, q.stored_total, q.spooled_total) == (4, 2, 1, 1)
    assert q.summary() == (
        "bundles kept in memory since start: 4 (stored straight from memory: 1, written to "
        "the spool later: 1); dropped, their results lost: 2"
    )
