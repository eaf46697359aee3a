"""S3 down for an hour: the uploader's real loop (``run``) on a simulated clock.

One bundle per minute (the default 60 s cycle interval) for an hour while every ``put`` fails,
then the store comes back and the agent keeps writing one bundle per minute. The backlog must
be stored within 5 s of recovery, oldest first, each bundle once — no cycle needed to notice.
``RetryPolicy()`` is the agent's (the defaults); ``Uploader.run`` is the real loop, given a fake
clock and a fake pause that moves the clock instead of sleeping (and ends the pause early at the
next cycle, as ``notify`` does).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from tests.support.builders import T0, filled_writer
from waddleperf.results.atomic import sha256_file
from waddleperf.results.reader import read_manifest
from waddleperf.results.spool import EntryState, Spool
from waddleperf.results.stores import BundleBody, PutConfirmation, StoreError, hive_key
from waddleperf.results.uploader import RetryPolicy, Uploader

START = 1_800_000_000.0  # epoch seconds of the first cycle
MINUTE = 60.0
#: The store is down during [START, START + OUTAGE_S): an hour and 25 s, so it comes back 35 s
#: before the next cycle — only the uploader's own probe can notice it within DRAIN_S.
OUTAGE_S = 3625.0
CYCLES_DOWN = 61  # one cycle per minute through the outage (at 0 s … 3600 s)
CYCLES_AFTER = 15  # the agent goes on after the store is back
IDLE_S = 30.0  # Uploader.run's default idle pause
#: The promise: after an outage, the backlog is in the store this soon after recovery.
DRAIN_S = 5.0


@dataclass
class Attempt:
    at: float
    key: str
    ok: bool


@dataclass
class DownThenUp:
    """An in-memory store that fails every put while the (fake) clock is in the outage."""

    clock: Clock
    up_at: float
    name: str = "memory"
    objects: dict[str, tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)

    def put(
        self,
        bundle: BundleBody,
        key: str,
        sha256: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str],
    ) -> PutConfirmation:
        now = self.clock()
        ok = now >= self.up_at
        self.attempts.append(Attempt(now, key, ok))
        if not ok:
            raise StoreError("S3 PutObject: Could not connect to the endpoint URL")
        if self.head(key) == sha256:
            return PutConfirmation(key, sha256, "mem", skipped=True)
        assert isinstance(bundle, Path) and sha256_file(bundle) == sha256
        self.objects[key] = (sha256, dict(tags), dict(metadata))
        return PutConfirmation(key, sha256, f"mem://{key}")

    def head(self, key: str) -> str | None:
        return self.objects[key][0] if key in self.objects else None

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Failure:
    name: str
    at: float
    attempts: int
    next_try: float


class Simulation:
    """The agent around the uploader: a cycle (one bundle, then ``notify``) every minute."""

    def __init__(self, spool: Spool, cycles: int) -> None:
        self.spool = spool
        self.clock = Clock(START)
        self.store = DownThenUp(self.clock, START + OUTAGE_S)
        self.uploader = Uploader(
            spool, self.store, RetryPolicy(), clock=self.clock, rng=random.Random(7),
            wait=self.wait,
        )  # fmt: skip
        self.cycles = cycles
        self.written: list[tuple[str, str]] = []  # bundle name, sha256, in cycle order
        self.keys: dict[str, str] = {}  # bundle name → store key
        self.pauses: list[float] = []
        self.passes = 0
        self.cycle()  # the first cycle's bundle is there when the uploader starts

    def cycle(self) -> None:
        i = len(self.written)
        started = T0 + i * timedelta(minutes=1)
        receipt = filled_writer(self.spool, f"c{i:03d}", started_at=started).finalize(
            started + timedelta(seconds=50)
        )
        assert receipt.accepted and receipt.path is not None and receipt.sha256 is not None
        self.written.append((receipt.path.name, receipt.sha256))
        self.keys[receipt.path.name] = hive_key(read_manifest(receipt.path))
        self.uploader.notify()

    def next_cycle_at(self) -> float | None:
        i = len(self.written)
        return START + i * MINUTE if i < self.cycles else None

    def wait(self, seconds: float) -> bool:
        """The uploader's pause: the clock jumps; a cycle due first ends the pause (notify)."""
        self.passes += 1
        self.pauses.append(seconds)
        due = self.next_cycle_at()
        if due is not None and due <= self.clock.now + seconds:
            self.clock.now = max(self.clock.now, due)
            self.cycle()
            return True
        self.clock.now += seconds
        if due is None and not self.spool.bundles():
            self.uploader.stop()  # every cycle ran and the spool is empty: the test is over
        elif self.clock.now > START + 6 * OUTAGE_S:
            self.uploader.stop()  # a runaway: the assertions below say what is missing
        return False


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool", min_free_bytes=0) as sp:
        yield sp


def test_an_hour_without_s3_then_recovery(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of state.json writes: durability is tested elsewhere, here only the schedule.
    monkeypatch.setattr("os.fsync", lambda fd: None)
    policy = RetryPolicy()
    sim = Simulation(spool, CYCLES_DOWN + CYCLES_AFTER)
    failures: list[Failure] = []
    real_record = spool.record_failure

    def record(path: Path, error: str, next_try: float) -> EntryState:
        after = real_record(path, error, next_try)
        failures.append(Failure(path.name, sim.clock.now, after.attempts, after.next_try))
        return after

    monkeypatch.setattr(spool, "record_failure", record)
    sim.uploader.run(idle_s=IDLE_S)  # returns when the simulation calls stop()

    recovery = START + OUTAGE_S
    names = [name for name, _ in sim.written]
    key_of = sim.keys
    assert len(names) == CYCLES_DOWN + CYCLES_AFTER and names == sorted(names)

    # Nothing lost: the spool is empty, nothing quarantined, every bundle is in the store with
    # the checksum the spool gave it.
    assert spool.bundles() == [] and spool.quarantined() == []
    assert sorted(sim.store.objects) == sorted(key_of.values())
    for name, sha in sim.written:
        stored_sha, tags, meta = sim.store.objects[key_of[name]]
        assert stored_sha == sha and meta["sha256"] == sha and tags["agent"] == "agent-1"

    # Exactly once: one successful put per bundle, never a put after it, nothing while down.
    ok = [a for a in sim.store.attempts if a.ok]
    assert Counter(a.key for a in ok) == Counter(key_of.values())
    assert all(a.at >= recovery for a in ok)
    assert all(not a.ok for a in sim.store.attempts if a.at < recovery)
    done_at = {a.key: a.at for a in ok}
    assert all(a.at <= done_at[a.key] for a in sim.store.attempts)

    # Back-off: every recorded delay grows as documented and stays within the configured cap;
    # the loop never pauses longer than its idle time.
    assert failures and all(f.at < recovery for f in failures)
    for f in failures:
        full = min(policy.cap_s, policy.base_s * 2 ** (f.attempts - 1))
        assert (1 - policy.jitter) * full - 1e-6 <= f.next_try - f.at <= full + 1e-6, f
    assert max(f.next_try - f.at for f in failures) <= policy.cap_s
    capped = [f for f in failures if policy.base_s * 2 ** (f.attempts - 1) >= policy.cap_s]
    assert capped, "the outage should have been long enough to reach the cap"
    assert all(0.0 <= p <= IDLE_S for p in sim.pauses)
    # A dead endpoint costs a bounded number of attempts: each waiting bundle is tried (and
    # its failure recorded) about once per back-off period, never in a tight loop ...
    recorded = Counter(f.name for f in failures)
    worst = max(recorded.values())
    assert worst <= 9 + OUTAGE_S / ((1 - policy.jitter) * policy.cap_s) + 1, recorded
    # ... plus one probe (the oldest bundle, early) at most every probe_s, at least every
    # (1 - jitter) · probe_s unless a cycle's new bundle is tried too.
    down = [a.at for a in sim.store.attempts if a.at < recovery]
    per_bundle = Counter(a.key for a in sim.store.attempts if a.at < recovery)
    probes = len(down) - sum(recorded.values())
    assert 0 < probes <= OUTAGE_S / ((1 - policy.jitter) * policy.probe_s) + CYCLES_DOWN
    moments = sorted(set(down))
    assert max(t2 - t1 for t1, t2 in pairwise(moments)) <= policy.probe_s + 1e-6

    # Retries go on through the hour: no bundle goes longer than the cap (plus one idle pause
    # and the time a pass is cut short by max_failures_per_pass) without another attempt.
    attempts_of: dict[str, list[float]] = {}
    for a in sim.store.attempts:
        attempts_of.setdefault(a.key, []).append(a.at)
    gaps = [t2 - t1 for ts in attempts_of.values() for t1, t2 in pairwise(ts)]
    assert max(gaps) <= policy.cap_s + IDLE_S + MINUTE, max(gaps)

    # Spool order: every pass tries the bundles that are due oldest first, so attempts made
    # at the same moment are in spool (cycle) order, and so are the first attempts. Back-off
    # is per bundle (so one bad bundle cannot block the queue), but the oldest is tried
    # whenever anything is, and the first upload that succeeds ends every back-off: the
    # backlog follows at once, strictly oldest first.
    by_moment: dict[float, list[str]] = {}
    for a in sim.store.attempts:
        by_moment.setdefault(a.at, []).append(a.key)
    order = {key_of[n]: i for i, n in enumerate(names)}
    for keys in by_moment.values():
        assert [order[k] for k in keys] == sorted(order[k] for k in keys)
    firsts = [a.key for a in sim.store.attempts if attempts_of[a.key][0] == a.at]
    assert [order[k] for k in firsts] == sorted(order[k] for k in firsts)

    # Draining after recovery: the next probe (within probe_s; no cycle is due for up to a
    # minute) finds the store back and ends the backlog's back-off; the whole backlog is
    # stored within DRAIN_S, not a minute (next cycle) or cap_s (10 min) later.
    backlog = [key_of[n] for n in names[:CYCLES_DOWN]]
    drained_in = max(done_at[k] for k in backlog) - recovery
    assert 0 <= drained_in <= min(policy.probe_s, DRAIN_S), drained_in
    # Bundles written after recovery go out within the minute they were written.
    for i, name in enumerate(names[CYCLES_DOWN:], start=CYCLES_DOWN):
        assert done_at[key_of[name]] - (START + i * MINUTE) < MINUTE
    delivered = [order[a.key] for a in ok]
    overtaken = sum(1 for i, x in enumerate(delivered) if any(y < x for y in delivered[i + 1 :]))
    assert overtaken == 0, delivered
    print(
        f"{overtaken} of {len(delivered)} bundles stored before an older one; "
        f"outage {OUTAGE_S:g} s, {len(sim.store.attempts)} put attempts "
        f"({sum(per_bundle.values())} while down, {probes} of them probes, at most {worst} "
        f"recorded per bundle), "
        f"max back-off {max(f.next_try - f.at for f in failures):.0f} s, "
        f"backlog drained {drained_in:.0f} s after recovery, {sim.passes} passes"
    )
