"""The uploader with bundles held in memory (the spool's disk full): straight to the store, one
queue with the spooled ones, oldest first, out of memory only once the store confirmed them; and
the end of an outage: the oldest probes the store, the backlog follows at once, in order."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.builders import T0, filled_writer
from tests.unit.results.fakes import Clock, MemoryStore
from waddleperf.results.pending import Choice, Limits, PendingBundle, PendingQueue
from waddleperf.results.spool import Spool
from waddleperf.results.stores import BundleBody, PutConfirmation
from waddleperf.results.uploader import RetryPolicy, Uploader

POLICY = RetryPolicy(base_s=10, cap_s=60, jitter=0.5, max_failures_per_pass=2, probe_s=2.0)


class Holder:
    """The agent's side of :class:`~waddleperf.results.uploader.HeldBundles`: the real pending
    queue under a lock, as ``BundleSink`` holds it (without the spool writes)."""

    def __init__(self) -> None:
        self.queue = PendingQueue(Limits(max_bytes=64 << 20, max_bundles=100))
        self.lock = threading.Lock()
        self.locations: dict[str, str] = {}

    def held_names(self) -> list[str]:
        with self.lock:
            return self.queue.names()

    def checkout(self, name: str) -> bytes | None:
        with self.lock:
            entry = self.queue.claim(name)
            return None if entry is None else entry.full

    def checkin(self, name: str, location: str | None) -> None:
        with self.lock:
            if location is None:
                self.queue.release(name)
            else:
                self.queue.stored(name)
                self.locations[name] = location


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool", min_free_bytes=0) as sp:
        yield sp


def _bundle(i: int) -> tuple[str, bytes]:
    """Bundle ``r{i}`` (started i minutes after T0): its spool name and archive."""
    started = T0 + timedelta(minutes=i)
    writer = filled_writer(None, run_id=f"r{i}", started_at=started)
    try:
        return writer.filename, writer.render(started + timedelta(seconds=50))
    finally:
        writer.close()


def _spooled(spool: Spool, i: int) -> Path:
    name, data = _bundle(i)
    receipt = spool.write_bundle(name, lambda out: out.write(data))
    assert receipt.path is not None
    return receipt.path


def _held(holder: Holder, i: int) -> str:
    name, data = _bundle(i)
    assert holder.queue.add(PendingBundle(name, data)) == []
    return name


def _runs(store: MemoryStore) -> list[str]:
    """Run ids in the order the store was asked to put them."""
    return [key.rsplit("/", 1)[1].removesuffix(".tar.gz") for key in store.puts]


def test_one_queue_oldest_first_across_spool_and_memory(spool: Spool) -> None:
    holder = Holder()
    spooled = [_spooled(spool, i).name for i in (0, 2)]
    held = [_held(holder, i) for i in (1, 3)]
    store = MemoryStore()
    report = Uploader(spool, store, POLICY, held=holder).drain_once()
    assert _runs(store) == ["r0", "r1", "r2", "r3"]
    assert report.uploaded == sorted(spooled + held) and report.from_memory == held
    assert report.drained and not holder.queue and spool.bundles() == []
    assert holder.queue.stored_total == 2
    (key1,) = [k for k in store.objects if k.endswith("/r1.tar.gz")]
    sha, data, tags, meta = store.objects[key1]  # the very bytes held, with their checksum
    assert data == _bundle(1)[1] and meta["sha256"] == sha and tags["agent"] == "agent-1"
    assert holder.locations[held[0]] == "mem"


def test_a_held_bundle_leaves_memory_only_once_the_store_confirmed_it(spool: Spool) -> None:
    holder = Holder()
    name = _held(holder, 0)
    clock = Clock()
    wrong = Uploader(spool, MemoryStore(confirm_wrong=True), POLICY, clock=clock, held=holder)
    report = wrong.drain_once()
    assert report.failed == [name] and holder.queue.names() == [name]
    assert not holder.queue.claimed(name)  # released: the spool may take it now
    down = Uploader(spool, MemoryStore(failures=1), POLICY, clock=clock, held=holder)
    assert down.drain_once().failed == [name] and holder.queue.names() == [name]
    # Its back-off is the uploader's (memory only, as the bundle): not in the spool's state.
    assert spool.entry(spool.directory / name).attempts == 0
    assert down.drain_once().deferred == [name]  # back-off, and no probe due yet
    clock.now += POLICY.probe_s
    report = down.drain_once()  # the probe: the store works again
    assert report.uploaded == report.from_memory == [name] and not holder.queue


def test_a_held_bundle_being_uploaded_is_not_written_to_the_spool(spool: Spool) -> None:
    holder = Holder()
    name = _held(holder, 0)
    seen: list[Choice] = []

    class Watching(MemoryStore):
        def put(self, bundle: BundleBody, *args: object, **kw: object) -> PutConfirmation:
            # The agent thread offers it to the spool while the upload is in flight.
            with holder.lock:
                seen.append(holder.queue.next_write(1 << 30, slack=0)[1])
            return super().put(bundle, *args, **kw)  # type: ignore[arg-type]

    store = Watching(failures=1)
    up = Uploader(spool, store, POLICY, held=holder)
    assert up.drain_once().failed == [name]
    assert seen == [Choice.WAIT]
    assert holder.queue.next_write(1 << 30, slack=0)[1] is Choice.FULL  # released again


def test_a_bundle_that_moved_to_the_spool_is_uploaded_from_there_once(spool: Spool) -> None:
    holder = Holder()
    name = _held(holder, 0)

    class MovesIt(Holder):
        def held_names(self) -> list[str]:
            names = holder.held_names()
            with holder.lock:  # the agent writes it to the spool right after it was listed
                entry = holder.queue.head()
                if entry is not None:
                    spool.write_bundle(entry.name, lambda out: out.write(entry.full))
                    holder.queue.written(entry.name)
            return names

        def checkout(self, name: str) -> bytes | None:
            return holder.checkout(name)

        def checkin(self, name: str, location: str | None) -> None:
            holder.checkin(name, location)

    store = MemoryStore()
    report = Uploader(spool, store, POLICY, held=MovesIt()).drain_once()
    assert report.uploaded == [name] and report.from_memory == [] and _runs(store) == ["r0"]
    assert spool.bundles() == [] and not holder.queue


def test_outage_ends_backlog_goes_oldest_first_in_one_go(spool: Spool) -> None:
    """The issue's case: a backlog in back-off (spooled and held), a new bundle arrives just
    as the store is back. The oldest goes first, then every other one, in order."""
    holder = Holder()
    clock = Clock()
    store = MemoryStore(failures=1_000)
    up = Uploader(spool, store, POLICY, clock=clock, rng=random.Random(3), held=holder)
    held: list[str] = []
    for i in range(6):  # one bundle a cycle, the first three spooled, then the disk is full
        _spooled(spool, i) if i < 3 else held.append(_held(holder, i))
        up.drain_once()
        clock.now += 1.0
    assert spool.entry(spool.bundles()[0]).attempts >= 1 and store.objects == {}
    store.failures = 0  # the store is back
    clock.now += 0.1  # while every bundle is still in its back-off
    store.puts.clear()
    held.append(_held(holder, 6))  # a new cycle: due at once, and the agent notifies
    report = up.drain_once()
    assert _runs(store) == [f"r{i}" for i in range(7)] and report.drained
    assert report.from_memory == held and not holder.queue
    assert not report.again and report.next_due is None


def test_a_newer_bundle_that_finds_the_store_back_restarts_the_pass(spool: Spool) -> None:
    """When the oldest fails on its own (here: every failure counts as such) and a newer bundle
    then succeeds, the older ones skipped in that pass are not left to an idle pause: the pass
    ends there and the next one, due at once, starts again from the oldest."""
    paths = [_spooled(spool, i) for i in range(3)]
    names = [p.name for p in paths]
    clock = Clock()
    policy = RetryPolicy(base_s=10, cap_s=60, jitter=0, max_failures_per_pass=2,
                         holds_back_attempts=1)  # fmt: skip
    store = MemoryStore(failures=2)
    up = Uploader(spool, store, policy, clock=clock, rng=random.Random(1))
    first = up.drain_once()  # r0, r1 fail; r2 deferred (two failures a pass)
    assert first.failed == names[:2] and first.deferred == names[2:]
    spool.record_failure(paths[1], "still waiting", clock.now + 3600)  # r1: a long back-off
    clock.now += 10  # r0's back-off has ended
    store.failures = 1  # r0 fails once more, then the store works
    report = up.drain_once()
    assert report.failed == names[:1] and report.deferred == names[1:2]
    assert report.uploaded == names[2:] and report.again
    again = up.drain_once()
    assert again.uploaded == names[:2] and again.drained


def test_memory_only_pass_leaves_the_spool_alone(spool: Spool) -> None:
    holder = Holder()
    spooled = _spooled(spool, 0)
    held = _held(holder, 1)
    store = MemoryStore()
    report = Uploader(spool, store, POLICY, held=holder).drain_once(memory_only=True)
    assert report.uploaded == [held] and spool.bundles() == [spooled] and _runs(store) == ["r1"]


class DownUntil(MemoryStore):
    """Fails every put until the fake clock reaches ``up_at``; notes when each key was stored."""

    def __init__(self, clock: Clock, up_at: float) -> None:
        super().__init__()
        self.clock, self.up_at = clock, up_at
        self.done_at: dict[str, float] = {}

    def put(self, bundle: BundleBody, *args: object, **kw: object) -> PutConfirmation:
        self.failures = 1 if self.clock.now < self.up_at else 0
        answer = super().put(bundle, *args, **kw)  # type: ignore[arg-type]
        self.done_at.setdefault(answer.key, self.clock.now)
        return answer


def test_run_with_60_s_cycles_drains_within_probe_s_of_recovery(spool: Spool) -> None:
    """The real loop on a fake clock, one cycle a minute (the default interval), the spool full
    after two: the store comes back 40 s after a cycle, and the backlog (spooled and held) is
    stored within probe_s — no cycle needed — oldest first; no pause while anything is due."""
    holder = Holder()
    clock = Clock()
    start = clock.now
    store = DownUntil(clock, up_at=start + 200.0)
    policy = RetryPolicy()  # the agent's defaults
    cycles, pauses = [0], []

    def new_cycle() -> None:
        _spooled(spool, cycles[0]) if cycles[0] < 2 else _held(holder, cycles[0])
        cycles[0] += 1

    def wait(seconds: float) -> bool:
        pauses.append((clock.now, seconds, len(spool.bundles()) + len(holder.queue)))
        due = start + 60.0 * cycles[0]
        if cycles[0] < 6 and due <= clock.now + seconds:  # notify() ends the pause
            clock.now = max(clock.now, due)
            new_cycle()
            return True
        clock.now += seconds
        drained = cycles[0] >= 6 and not spool.bundles() and not holder.queue
        if drained or clock.now > start + 7200:  # done, or a runaway the asserts will show
            uploader.stop()
        return False

    new_cycle()
    uploader = Uploader(spool, store, policy, clock=clock, rng=random.Random(5), wait=wait,
                        held=holder)  # fmt: skip
    uploader.run(idle_s=30.0)

    assert not holder.queue and spool.bundles() == [] and holder.queue.stored_total == 4
    runs = {key.rsplit("/", 1)[1]: at for key, at in store.done_at.items()}
    assert sorted(runs) == [f"r{i}.tar.gz" for i in range(6)]
    backlog = [f"r{i}.tar.gz" for i in range(4)]  # cycles at 0, 60, 120, 180 s: all before
    drained_in = max(runs[r] for r in backlog) - store.up_at
    assert 0 <= drained_in <= policy.probe_s, drained_in
    ok = [k.rsplit("/", 1)[1] for k in store.puts if store.done_at.get(k) is not None]
    assert sorted(set(ok), key=ok.index) == [f"r{i}.tar.gz" for i in range(6)]  # in order
    assert all(s <= policy.probe_s for at, s, n in pauses if at < store.up_at and n)
    assert all(s == 0 for at, s, n in pauses if store.up_at <= at and n)
